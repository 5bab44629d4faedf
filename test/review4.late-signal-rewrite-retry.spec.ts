/**
 * Review 4: a handed-over holder whose signal is first read after (or during) a fencing rewrite that got
 * no answer is reported lost by its own retried rewrite, while it still holds the lock.
 *
 * The review-3 fix makes a retried rewrite take the loss listener from `owned.readingListener`, i.e. from
 * the reads rewriteHolder() itself started (keepListening) for a listener it had taken off the old holder
 * watch. But a handle's signal is made lazily (HeldLock.signal): when it is first read once the holder
 * watch is no longer armed (the rewrite's new watch was dropped after its setData got no answer, or is
 * still pending while the setData is in flight), backend.watch() falls back to watchByReading(): a data
 * watch of its own, whose stop function HeldLock keeps (`unwatch`). rewriteHolder() knows nothing of it.
 *
 * Interleaving (one process, one session, nobody else touches the node):
 *  1. A holds `id`; B waits behind it in the same process and is handed the lock (hand-off.ts).
 *  2. B's first fencingToken() rewrites the holder node; the setData is applied, but its caller is told
 *     OPERATION_TIMEOUT. The new holder watch is dropped; no listener was on it, so keepListening() does
 *     nothing; `rewritten` stays false; fencingToken() rejects (LockUnavailableError, retryable).
 *  3. B reads `signal` (after step 2, or while step 2's setData is in flight): backend.watch() sees an
 *     unarmed (or pending) watch and sets a data watch by reading (HeldLock.unwatch), not recorded in
 *     `owned.readingListener` / `owned.stopWatching`.
 *  4. B asks fencingToken() again: the node is read (ours), not marked rewritten, so rewritten again;
 *     the listener found is undefined (no old-watch listener, no readingListener), the handle's own data
 *     watch stays, and our own setData fires it.
 *  5. B's signal aborts with LockLostError ("deleted or changed by someone else"), the lock is taken off
 *     the held set and reported lost, although B still holds it and nobody but B touched the node.
 * README: "if anyone but its own release deletes or changes the node, the signal aborts".
 */
import { ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver, settled, slowNextMulti } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r4late');
});
const node = (id: string) => `${namespace}/default/${id}`;

/** One round trip on the session: every reply and notification sent before it has been handled. */
const roundTrip = (zk: ZookeeperService, path: string) => zk.exists(path).then(() => undefined);

describe('a handed-over holder whose signal is first read after its fencing rewrite got no answer', () => {
  it('is not reported lost by its own retried rewrite (signal read after the unanswered rewrite)', async () => {
    const { lock, zk, backend } = await warmSide(namespace);
    const second = await handedOver({ lock, backend }, 'late');
    const applied = slowNextMulti(zk);
    const firstTry = await settled(second.fencingToken());
    await applied;
    expect(typeof firstTry).not.toBe('bigint'); // unknown: may be asked again

    const signal = second.signal; // first read now: the holder watch is not armed, so it reads
    await roundTrip(zk, node('late')); // its read (and watch) answered
    expect(signal.aborted).toBe(false);

    const token = await settled(second.fencingToken());
    await roundTrip(zk, node('late')); // any notification of our own setData has come in
    // Nobody but B touched the node; B still holds the lock.
    const { stat } = await zk.getData(node('late'));
    expect(stat.ephemeralOwner).toBe(zk.sessionId);
    expect(signal.aborted ? (signal.reason as Error).message : 'not aborted').toBe('not aborted');
    expect(typeof token).toBe('bigint');
    await second.release();
    expect(await zk.exists(node('late'))).toBeNull();
  });

  it('is not reported lost by its own retried rewrite (signal read while the first rewrite was in flight)', async () => {
    const { lock, zk, backend } = await warmSide(namespace);
    const second = await handedOver({ lock, backend }, 'during');
    const applied = slowNextMulti(zk);
    const firstTry = settled(second.fencingToken()); // its setData is sent in this tick
    const signal = second.signal; // read meanwhile: the new holder watch is still pending
    expect(typeof (await firstTry)).not.toBe('bigint');
    await applied;
    await roundTrip(zk, node('during'));
    expect(signal.aborted).toBe(false);

    const token = await settled(second.fencingToken());
    await roundTrip(zk, node('during'));
    const { stat } = await zk.getData(node('during'));
    expect(stat.ephemeralOwner).toBe(zk.sessionId);
    expect(signal.aborted ? (signal.reason as Error).message : 'not aborted').toBe('not aborted');
    expect(typeof token).toBe('bigint');
    await second.release();
    expect(await zk.exists(node('during'))).toBeNull();
  });
});
