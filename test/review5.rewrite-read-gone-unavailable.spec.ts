/**
 * Review 5: a handed-over holder whose node is deleted by someone else between its fencing rewrite's
 * setData and the watch read behind it gets LockUnavailableError ("ZooKeeper did not answer the read"),
 * not LockLostError, and the lock is not marked lost: it stays held, its signal unaborted.
 *
 * rewriteHolder(): after the setData succeeds, a read that did not arm the watch ends in
 * `keepListening(seen !== undefined ? 'now belongs to someone else' : undefined)` and then, whatever the
 * read found, `throw new LockUnavailableError('ZooKeeper did not answer the read ...')`. When the read
 * answered NO_NODE (seen === null) or found someone else's node, the lock is lost, and only a listener
 * (a handle whose signal was read before) hears of it; the caller of fencingToken() is told that
 * ZooKeeper did not answer, a retryable outage, and LockService does not mark the lock lost.
 *
 * Interleaving (one process; an operator on another session):
 *  1. A holds `id`; B waits right behind it in the same process and is handed the lock (hand-off.ts).
 *  2. B asks fencingToken(): setData sent and answered (ok); the watch read behind it reaches the server
 *     after the operator's delete of the node (requests of two sessions interleave on the server).
 *  3. The read answers NO_NODE: the watch is 'unarmed', `seen` null.
 * fencingToken() rejects with LockUnavailableError; `heldCount` still counts the lock; its signal (read
 * now) is not aborted at that moment. LockHandle: "fencingToken ... rejects with LockLostError when lost".
 */
import { LockLostError, ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver, settled } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r5gone');
});
const node = (id: string) => `${namespace}/default/${id}`;

const clientOf = (zk: ZookeeperService) => (zk as unknown as { session: { client: Record<string, unknown> } }).session.client;

/** The next getData of `path` is sent only when `send()` is called (the caller waits for its reply meanwhile). */
function holdNextRead(zk: ZookeeperService, path: string): { held: Promise<void>; send(): void } {
  const client = clientOf(zk);
  const original = client.getData as (...args: unknown[]) => void;
  let caught!: () => void;
  const held = new Promise<void>((resolve) => (caught = resolve));
  let go!: () => void;
  const released = new Promise<void>((resolve) => (go = resolve));
  client.getData = (p: string, ...rest: unknown[]) => {
    if (p !== path) return original.call(client, p, ...rest);
    delete client.getData; // one call only
    caught();
    void released.then(() => original.call(client, p, ...rest));
  };
  return { held, send: () => go() };
}

it('rejects fencingToken() with LockLostError when the rewrite\'s watch read finds the node deleted', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const operator = await newService();
  const second = await handedOver({ lock, backend }, 'g'); // handed over: its first token rewrites the node

  const multi = zk.multi.bind(zk);
  let written: Promise<unknown> | undefined;
  jest.spyOn(zk, 'multi').mockImplementationOnce((ops) => (written = multi(ops)));
  const read = holdNextRead(zk, node('g'));
  const token = settled(second.fencingToken());
  await read.held;
  await written; // the setData is applied (our data, our session)
  await operator.remove(node('g')); // someone deletes the node
  read.send(); // the watch read reaches the server after the delete: NO_NODE

  const result = await token;
  const heldAfter = lock.heldCount;
  const abortedAfter = second.signal.aborted;
  await second.release().catch(() => undefined);
  expect(result).toBeInstanceOf(LockLostError);
  expect({ heldAfter, abortedAfter }).toEqual({ heldAfter: 0, abortedAfter: true });
});
