/**
 * A chroot that does not exist (issue 15 item 6): the session connects, but every lock would fail with
 * NO_NODE. Start-up logs an error naming the chroot and how to create it; the health check says down,
 * naming it, until it exists.
 */
import { Logger } from '@nestjs/common';
import { ZookeeperHealthIndicator } from '../lib/health/zookeeper.health';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

describe('a missing chroot', () => {
  it('is logged at connect and reported down by the health check until it is created', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const chroot = uniqueNamespace('missing-chroot');
    const admin = await newService();
    try {
      const zk = await newService({ connectionString: `${sharedConnectString()}${chroot}` });
      expect(zk.chroot).toBe(chroot);
      expect(logged).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`chroot ${chroot} does not exist.*create ${chroot}`)));

      const health = new ZookeeperHealthIndicator(zk);
      const down = await health.isHealthy('zookeeper');
      expect(down.zookeeper).toMatchObject({ status: 'down', state: 'connected' });
      expect(down.zookeeper.message).toContain(`chroot ${chroot} does not exist`);

      await admin.create(chroot);
      const up = await health.isHealthy('zookeeper');
      expect(up.zookeeper).toMatchObject({ status: 'up', state: 'connected' });
    } finally {
      logged.mockRestore();
      await admin.remove(chroot).catch(() => undefined);
    }
  });

  it('logs nothing when the chroot exists', async () => {
    const chroot = uniqueNamespace('chroot');
    const admin = await newService();
    await admin.create(chroot);
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const zk = await newService({ connectionString: `${sharedConnectString()}${chroot}` });
      expect(logged).not.toHaveBeenCalled();
      expect((await new ZookeeperHealthIndicator(zk).isHealthy('zk')).zk.status).toBe('up');
    } finally {
      logged.mockRestore();
      await admin.remove(chroot);
    }
  });
});
