/**
 * Review 6 (minor, internal contract; not visible through LockService): a loss listener whose stop
 * function was called while a fencing rewrite was under way is set up again by that rewrite, and told
 * of a later loss.
 *
 * ZookeeperLockBackend.watch() returns a function that, as its comment says, "stops it wherever it is
 * now" (the rewrite moves the listener from watch to watch). rewriteHolder() however takes the listener
 * at its start into a local `listener`, and its keepListening() uses that local: when the rewrite's watch
 * read does not arm (no answer: 'did not answer'), it starts watchByReading(grant, listener) and records
 * it as owned.readingListener, whether or not the listener was stopped meanwhile; when the read finds
 * the node gone or someone else's, it calls the listener directly.
 *
 * Interleaving (one process; an operator on another session):
 *  1. A holds `id`; B waits right behind it and is handed the lock (hand-off.ts).
 *  2. B's grant is watched (backend.watch: the listener goes on the inherited holder watch).
 *  3. B's fencingToken() starts the rewrite: setData + watch read sent; the listener moves to the new watch.
 *  4. The listener is stopped (stop(): it is unlistened from the new watch).
 *  5. The watch read fails (CONNECTION_LOSS): keepListening() starts reads of its own for the listener.
 *  6. The operator deletes the node: the stopped listener is called.
 * LockService only stops a handle's listener when the lock stops being live (released, revoked, lost),
 * and its listener checks `lock.live`, so nothing user-visible follows; but a watch (and its re-reads on
 * connection trouble) stays set for a listener nobody wants until the grant's release.
 */
import type { ZookeeperLockBackend, ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver, settled } from './support/hand-offs';
import { ClientFaults, CODES } from './support/client-faults';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r6stop');
});
const node = (id: string) => `${namespace}/default/${id}`;

it('never tells a loss listener that was stopped during a fencing rewrite', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const operator = await newService();
  const faults = new ClientFaults(zk);
  const second = await handedOver({ lock, backend }, 's'); // handed over: its first token rewrites the node
  const grant = (second as unknown as { parts: Array<{ grant: ZookeeperGrant }> }).parts[0].grant;
  const zkBackend = backend as ZookeeperLockBackend;

  const heard: string[] = [];
  const stop = zkBackend.watch(grant, (reason) => heard.push(reason));
  faults.answerWith('getData', node('s'), CODES.CONNECTION_LOSS); // the rewrite's watch read gets no answer
  const token = settled(zkBackend.fencingToken(grant)); // setData + watch read sent now
  stop(); // the listener is no longer wanted
  const outcome = await token; // 'did not answer' (the setData was applied)
  expect(outcome).toBeInstanceOf(Error);

  await zk.exists(node('s')); // our session's earlier reads (if any) are answered by now
  await operator.remove(node('s'));
  await zk.exists(node('s')); // the deletion's notification reaches us before this reply

  await second.release().catch(() => undefined);
  expect(heard).toEqual([]);
});
