/**
 * Review 3: a waiter that was aborted before the lock was released is still handed the lock.
 *
 * waitOffering() takes its hand-over offer back (withdraw) only once waitForRemoval() has returned: after
 * the abort listener's wake-up has gone through its promise turns, or, when the abort comes while its
 * getData is in flight (no abort listener yet), after that whole round trip. A release of this process in
 * that window finds the offer still standing and hands the lock over; waitOffering() then returns the
 * hand-over "whatever then ended the wait", and the aborted acquire resolves with a handle.
 *
 * Interleaving: B waits behind A (same process) and offers itself; B's caller aborts; A releases in the
 * same tick (or within B's round trip). B's acquire resolves with the lock instead of rejecting with the
 * signal's reason, and a withLock body of B runs although its caller had left before the lock was free.
 * Without the hand-over the same interleaving gives B the signal's reason (its loop checks the signal
 * before taking a freed lock), and the lock goes to the next in line. The code's own contract
 * (queued.recipe.ts waitOffering): "a hand-over that came *before* the give-up is kept"; README: "abort
 * gives the signal's reason"; lock.hand-off.spec.ts: "never hands over to a waiter that gave up".
 */
import { cleanup, listTree, uniqueNamespace } from './support/zookeeper';
import { warmSide, nextOffer, handOffsOf } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r3abort');
});

it('never hands the lock to a waiter whose caller aborted before the release', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const first = await lock.acquire('quit', { wait: 5_000 });
  const controller = new AbortController();
  const offered = nextOffer(backend);
  let ran = false;
  const quitter = lock
    .withLock('quit', () => void (ran = true), { wait: 5_000, signal: controller.signal })
    .then(
      () => 'granted',
      (e: unknown) => e,
    );
  await offered; // B waits right behind A, offering itself
  controller.abort(new Error('caller left'));
  const released = first.release(); // A is done in the same tick
  await released;
  expect(await quitter).toEqual(new Error('caller left'));
  expect(ran).toBe(false);
  expect(handOffsOf(backend).size).toBe(0);
  expect(await listTree(zk, `${namespace}/default`)).toEqual([]); // the lock freed in ZooKeeper, B's place gone
});
