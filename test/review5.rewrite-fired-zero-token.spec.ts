/**
 * Review 5: a handed-over holder's first fencingToken() resolves with 0n when its node is deleted by
 * someone else right after the fencing rewrite, and the notification is handled in the same tick as the
 * reply of the rewrite's watch read.
 *
 * rewriteHolder() sends the setData and, right behind it, the read that sets the new holder watch
 * (HolderWatch.sendRead). holder-watch.ts says itself that the notification may be handled before the
 * read's promise callback runs ("both came in one chunk from the socket"): the callback then finds the
 * watch 'fired', not 'pending', and returns without recording `version` and `mzxid` (they stay 0 / 0n).
 * rewriteHolder() counts 'fired' as success (`state !== 'armed' && state !== 'fired'` is its failure test)
 * and returns `read.watch.mzxid`: 0n.
 *
 * Interleaving (one process; an operator on another session):
 *  1. A holds `id`; B waits right behind it in the same process and is handed the lock (hand-off.ts).
 *  2. B asks fencingToken(): the holder watch vouches, the grant needs a rewrite; setData + watch read
 *     are sent; the setData is answered; the read is answered (the server set the watch: our node, our
 *     token).
 *  3. The operator deletes the node; its notification reaches the client in the same chunk as the read's
 *     reply, so both are handled in one tick (the test hands the read's reply to its caller right before
 *     the notification's listeners, which is that order).
 *  4. The watch callback finds the watch 'pending' and makes it 'fired'; the read's promise callback then
 *     sees 'fired' and records nothing; rewriteHolder() returns mzxid 0n.
 * B's fencingToken() resolves with 0n: smaller than A's token (the previous holder's), and the lock was
 * lost at that moment. LockHandle: "fencingToken ... rejects with LockLostError when lost"; "a number that
 * grows with every new holder". As B's signal was never read, nothing else tells B: HeldLock caches 0n.
 */
import { LockLostError, ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { warmSide, handedOver, settled } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r5fired');
});
const node = (id: string) => `${namespace}/default/${id}`;

type RawClient = Record<string, unknown> & {
  connectionManager: { watcherManager: { dataWatchers: Record<string, { prependOnceListener(e: string, f: () => void): void }> } };
};
const clientOf = (zk: ZookeeperService) => (zk as unknown as { session: { client: RawClient } }).session.client;

/**
 * The next getData of `path` goes to the server as usual; when its reply is in (the client has registered
 * the watcher), the reply is handed to its caller right before the next notification for `path` is
 * dispatched, in the same tick: what happens when the reply and the notification come in one chunk.
 * Resolves once the reply is in.
 */
function replyTogetherWithNextNotification(zk: ZookeeperService, path: string): Promise<void> {
  const client = clientOf(zk);
  const original = client.getData as (...args: unknown[]) => void;
  let replied!: () => void;
  const arrived = new Promise<void>((resolve) => (replied = resolve));
  client.getData = (p: string, watcher: unknown, callback: (...reply: unknown[]) => void) => {
    if (p !== path) return original.call(client, p, watcher, callback);
    delete client.getData; // one call only
    original.call(client, p, watcher, (...reply: unknown[]) => {
      const emitter = client.connectionManager.watcherManager.dataWatchers[p];
      emitter.prependOnceListener('notification', () => callback(...reply));
      replied();
    });
  };
  return arrived;
}

it('never resolves a fencing token of 0n when the node is deleted as the rewrite\'s watch read answers', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const operator = await newService();
  let firstToken = 0n;
  const second = await handedOver({ lock, backend }, 'z', async (first) => (firstToken = await first.fencingToken())); // handed over: its first token rewrites the node

  const replyIn = replyTogetherWithNextNotification(zk, node('z'));
  const token = settled(second.fencingToken()); // setData + watch read sent now
  await replyIn; // the read was answered by the server: the node was ours, the watch is set
  await operator.remove(node('z')); // someone deletes it; its notification comes with the reply

  const result = await token;
  await second.release().catch(() => undefined);
  expect(typeof result === 'bigint' ? `token ${result} (A had ${firstToken})` : result).toBeInstanceOf(LockLostError);
});
