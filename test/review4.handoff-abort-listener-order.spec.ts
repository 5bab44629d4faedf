/**
 * Review 4: a waiter whose caller's signal has already aborted is still handed the lock when the release
 * runs inside an abort listener of that same signal registered before the acquire.
 *
 * The review-3 fix asks the waiter at the hand-over whether it still wants the lock (HandOffCandidate.wants:
 * `!limits.signal.aborted && now < deadline`). But `limits.signal` is not the caller's signal: LockService
 * hands the backend the ShutdownGate's tracked signal, which learns of the caller's abort through an
 * 'abort' listener (`forward`) that the gate adds to the caller's signal when the acquire starts. Listeners
 * run in the order they were added, so a listener added earlier runs while the caller's signal is aborted
 * and the tracked one is not yet.
 *
 * Interleaving (one process, one session):
 *  1. A holds `id`. One AbortController stands for a unit of work (a job, a request) both belong to; A's
 *     owner releases A when that work is cancelled (an 'abort' listener added when A was taken).
 *  2. B waits for `id` with that signal, right behind A in the same process, offering itself.
 *  3. The work is cancelled: `controller.abort()`. The caller's signal is aborted; A's listener runs first
 *     and releases A; the release is synchronous up to HandOffs.handTo(), whose wants() reads the tracked
 *     signal: not aborted yet. The lock is handed to B.
 *  4. The gate's `forward` runs next and aborts the tracked signal; B's wait wakes, finds the hand-over,
 *     and B's acquire resolves with the lock; its withLock body runs.
 * B's caller had aborted before the release began, and B runs its critical section anyway. Without the
 * hand-over (a release by another process, or no offer) the same interleaving gives B the signal's reason.
 * README / review 3: "no hand-over to a waiter that just gave up"; "abort gives the signal's reason".
 */
import { cleanup, listTree, uniqueNamespace } from './support/zookeeper';
import { warmSide, nextOffer, handOffsOf } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r4order');
});

it('never hands the lock to a waiter whose caller\'s signal aborted before the release began', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const controller = new AbortController();
  const first = await lock.acquire('job', { wait: 5_000 });
  let released: Promise<void> | undefined;
  let abortedAtRelease: boolean | undefined;
  controller.signal.addEventListener('abort', () => {
    abortedAtRelease = controller.signal.aborted;
    released = first.release(); // A's owner stops when the work is cancelled
  });
  const offered = nextOffer(backend);
  let ran = false;
  const waiter = lock
    .withLock('job', () => void (ran = true), { wait: 5_000, signal: controller.signal })
    .then(
      () => 'granted',
      (e: unknown) => e,
    );
  await offered; // B waits right behind A, offering itself
  controller.abort(new Error('work cancelled'));
  expect(abortedAtRelease).toBe(true); // B's caller had given up when the release began
  await released;
  expect(await waiter).toEqual(new Error('work cancelled'));
  expect(ran).toBe(false);
  expect(handOffsOf(backend).size).toBe(0);
  expect(await listTree(zk, `${namespace}/default`)).toEqual([]); // the lock freed in ZooKeeper, B's place gone
});
