/**
 * The request counter (xid) of node-zookeeper-client only grows while a session lives, and jute writes it
 * as a signed 32-bit int: at 2^31 (about 8 days at 3,000 requests/s) every request, the heartbeat and the
 * close of the session used to throw, leaving a session that keeps its locks while nothing reaches it.
 * The counter is moved near the limit instead of sending two billion requests.
 */
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { newLockService } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

function managerOf(zk: ZookeeperService): { xid: number; pendingQueue: unknown[] } {
  return (zk as unknown as { session: { client: { connectionManager: { xid: number; pendingQueue: unknown[] } } } }).session.client
    .connectionManager;
}

describe('request numbers past 2^31 - 1 on one session', () => {
  afterEach(cleanup);

  it('wrap to 1: requests, locks and the heartbeat go on on the same session, nothing stays pending', async () => {
    const namespace = uniqueNamespace('xid');
    const zk = await newService({ namespace });
    const states: string[] = [];
    const subscription = zk.state$.subscribe((event) => states.push(event.state));
    const sessionId = zk.sessionId;
    managerOf(zk).xid = 2 ** 31 - 3; // as after about 2.1 billion requests
    const answers = await Promise.all(Array.from({ length: 6 }, () => zk.exists('/').then(() => 'ok', (e) => String(e.code))));
    expect(answers).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(managerOf(zk).xid).toBeLessThan(10);
    const locks = newLockService(zk);
    await locks.withLock('after-wrap', async () => expect(await zk.exists(`${namespace}/default/after-wrap`)).not.toBeNull());
    expect(managerOf(zk).pendingQueue).toHaveLength(0);
    expect(zk.sessionId).toBe(sessionId);
    expect(states).toEqual(['connected']);
    subscription.unsubscribe();
  });

  it('never hands out 0, a negative (reserved) or a non-integer xid', async () => {
    const zk = await newService();
    for (const value of [2 ** 31, 0, -2, 1.5, Number.NaN]) {
      managerOf(zk).xid = value;
      expect(managerOf(zk).xid).toBe(1);
    }
    await expect(zk.exists('/')).resolves.not.toBeNull();
  });

  it('close() ends the session when the counter is past the limit', async () => {
    const zk = await newService();
    const observer = await newService();
    const path = `${uniqueNamespace('xid')}-held`;
    await zk.create(path, { mode: 'ephemeral' });
    managerOf(zk).xid = 2 ** 31; // one past the largest int32
    await expect(zk.close()).resolves.toBeUndefined();
    expect(zk.state).toBe('closed');
    expect(await observer.exists(path)).toBeNull(); // the CLOSE_SESSION went out: the ephemeral node is gone
  });
});
