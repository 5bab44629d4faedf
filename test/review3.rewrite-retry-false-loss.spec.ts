/**
 * Review 3: a handed-over holder whose first fencing rewrite got no answer in time is reported lost by its
 * own second rewrite, while it still holds the lock.
 *
 * Interleaving (one process, one session, no one else touches the node):
 *  1. A holds `id`; B waits behind it in the same process and is handed the lock (hand-off.ts). B's handle
 *     listens to its signal (on the inherited holder watch).
 *  2. B's first fencingToken() rewrites the holder node (setData, same token). The setData is slow: the
 *     caller gets OPERATION_TIMEOUT (outcome unknown), the server applies it later. rewriteHolder() then
 *     drops the new watch and, to keep the signal listening, sets `owned.stopWatching` = watchByReading():
 *     a data watch of its own on the holder node. `rewritten` stays false; fencingToken() rejects with
 *     LockUnavailableError (retryable).
 *  3. B asks again. The holder watch no longer vouches, so the node is read (still ours) and, since it was
 *     never marked rewritten, rewritten again. That takes the listener from the dropped watch (none left),
 *     but leaves the watchByReading() watch of step 2 in place; our own setData fires it.
 *  4. The signal aborts with LockLostError ("deleted or changed by someone else"), the lock is reported
 *     lost and taken off the held set, although nobody but B itself touched the node and B still holds it.
 * README: "if anyone but its own release deletes or changes the node, the signal aborts": here our own
 * fencing rewrite does.
 */
import { LockLostError } from 'nestjs-zookeeper-lock';
import { cleanup, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver, slowNextMulti } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r3retry');
});
const node = (id: string) => `${namespace}/default/${id}`;

it('does not report a handed-over holder lost when its fencing rewrite is retried after a timed-out one', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const second = await handedOver({ lock, backend }, 'retry');
  const signal = second.signal; // B listens for loss
  const applied = slowNextMulti(zk);
  const firstTry = await second.fencingToken().then(
    (t) => t,
    (e: unknown) => e,
  );
  await applied;
  expect(firstTry).not.toBeInstanceOf(LockLostError); // unknown, not lost: may be asked again
  expect(signal.aborted).toBe(false);

  const token = await second.fencingToken().then(
    (t) => t,
    (e: unknown) => e,
  );
  // Nobody but B touched the node; B still holds the lock.
  const { stat } = await zk.getData(node('retry'));
  expect(stat.ephemeralOwner).toBe(zk.sessionId);
  expect(signal.aborted ? (signal.reason as Error).message : 'not aborted').toBe('not aborted');
  expect(typeof token).toBe('bigint');
  await second.release();
  expect(await zk.exists(node('retry'))).toBeNull();
});
