/**
 * Review 2: a handed-over holder whose fencing rewrite's watch read fails stops hearing of its loss.
 *
 * rewriteHolder() takes the handle's loss listener off the old holder watch, drops that watch, and puts
 * the listener on the watch of the read sent behind the setData. When that read fails (one lost reply),
 * the new watch ends 'unarmed' and its listener is never called: the handle's signal is then watched by
 * nothing. fencingToken() rejects with LockUnavailableError (not a loss), and a later deletion of the node
 * by someone else (the lock taken by another owner) no longer aborts the signal: the holder works on,
 * unlocked, until its release finds out. README: "What the new holder inherits it answers for: loss is
 * still seen (the holder watch)".
 */
import { ClientFaults, CODES } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r2rewrite');
});
const node = (id: string) => `${namespace}/default/${id}`;

const side = () => warmSide(namespace);

it('still aborts a handed-over holder\'s signal when its node is taken away after a fencing rewrite whose read failed', async () => {
  const { lock, zk, backend } = await side();
  const operator = await newService();
  const other = await side();
  const second = await handedOver({ lock, backend }, 'rw'); // handed over
  const signal = second.signal; // listening (on the inherited holder watch)
  const faults = new ClientFaults(zk);
  faults.answerWith('getData', node('rw'), CODES.CONNECTION_LOSS); // the read behind the rewrite's setData
  const token = await second.fencingToken().then(
    (t) => t,
    (e) => e,
  );
  faults.restore();
  expect(signal.aborted).toBe(false); // nothing was lost yet
  // Someone deletes the node, and another owner takes the lock.
  await operator.remove(node('rw'));
  const next = await other.lock.acquire('rw');
  await new Promise((r) => setTimeout(r, 500));
  const aborted = signal.aborted;
  await next.release();
  await second.release();
  expect(aborted).toBe(true); // the holder must learn it lost the lock
});
