/**
 * The session's liveness comes only from answers the ensemble's leader gave: writes and sync. A follower
 * cut off from the leader keeps answering reads until it notices (up to syncLimit x tickTime), while the
 * leader may expire the session meanwhile; so reads must not put off the heartbeat, which is a sync.
 */
import { ZookeeperSession } from '../lib/zookeeper/zookeeper-session';
import { confirmsSession } from '../lib/zookeeper/session-watchdog';
import { cleanup, newService, startServer } from './support/zookeeper';

afterAll(cleanup);

describe('sync and the session heartbeat', () => {
  it('syncs against a real server, with and without a chroot', async () => {
    const zk = await newService();
    await expect(zk.sync()).resolves.toBeUndefined();
    await expect(zk.sync('/no/such/node')).resolves.toBeUndefined(); // a sync needs no node
    await zk.mkdirp('/sync-chroot');
    const chrooted = await newService({ connectionString: `${zk.options.connectionString}/sync-chroot` });
    await expect(chrooted.sync()).resolves.toBeUndefined();
  });

  it('counts only answers that went through the leader as proof the session lives', () => {
    for (const op of ['create', 'remove', 'setData', 'multi', 'sync']) expect(confirmsSession(op)).toBe(true);
    for (const op of ['getData', 'exists', 'getChildren', 'getACL']) expect(confirmsSession(op)).toBe(false);
  });

  it('sends sync heartbeats while only reads are answered', async () => {
    const server = await startServer();
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 2_000 });
    const syncs = jest.spyOn(ZookeeperSession.prototype, 'sync');
    try {
      // A steady stream of answered reads: before, each answer put the heartbeat off, so none was sent.
      const until = Date.now() + 10_000; // a bound that only catches a hang
      while (syncs.mock.calls.length < 3 && Date.now() < until) await zk.exists('/');
      expect(syncs.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(zk.state).toBe('connected');
    } finally {
      syncs.mockRestore();
    }
  });
});
