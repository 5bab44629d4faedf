/**
 * Review 16c: a request that the client cannot serialize is failed at once with BAD_ARGUMENTS, but it
 * was already given an xid and put on the pending queue (node-zookeeper-client's onPacketQueueReadable
 * pushes the packet to pendingQueue, then calls toBuffer(), which throws a RangeError for an int32 field
 * out of range). It is never sent, so the server's next reply carries the next xid, handleReply
 * (lib/zookeeper/connection-manager.patch.ts) finds the unsent packet at the head of the pending queue,
 * declares an xid mismatch and drops the connection: every other request in flight fails with
 * CONNECTION_LOSS and the session is suspended, because of one caller's bad argument.
 * README (Bounded answers): an oversized request "fails at once with BAD_ARGUMENTS and is never sent, so
 * it cannot drop the connection under other requests"; a version past 2^31-1 (ZookeeperService.remove,
 * multi's check/remove/setData) is no different.
 */
import { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(() => cleanup());

describe('review16c: a request with a version past int32', () => {
  it.each([
    ['remove', (zk: ZookeeperService, path: string) => zk.remove(path, 2 ** 31)],
    ['multi check', (zk: ZookeeperService, path: string) => zk.multi([{ op: 'check', path, version: 2 ** 31 }])],
  ])('%s: fails alone with BAD_ARGUMENTS; the connection and the requests around it carry on', async (_, bad) => {
    const zk = await newService();
    const root = uniqueNamespace('r16c-int32');
    await zk.mkdirp(root);
    const events: ZookeeperStateEvent[] = [];
    const subscription = zk.state$.subscribe((e) => events.push(e));
    try {
      const before = zk.getChildren(root); // in flight around the bad one
      const refused = bad(zk, root).then(
        () => 'resolved',
        (error) => (error as { code?: string }).code,
      );
      const after = zk.exists(root); // queued right behind it
      const outcomes = await Promise.all([
        before.then(() => 'answered', (e) => (e as { code?: string }).code),
        refused,
        after.then(() => 'answered', (e) => (e as { code?: string }).code),
      ]);
      console.log(`around the bad request: ${outcomes.join(', ')}; states: ${events.map((e) => e.state).join(' > ')}`);
      expect({ outcomes, states: events.map((e) => e.state) }).toEqual({ outcomes: ['answered', 'BAD_ARGUMENTS', 'answered'], states: ['connected'] });
    } finally {
      subscription.unsubscribe();
    }
  });
});
