/**
 * Scopes made up at runtime: the library's memory of the directories it made stays bounded (at most
 * 1,000 remembered), and locks in forgotten scopes still work. The scope dirs themselves stay in
 * ZooKeeper (persistent, a few bytes each): the README says to use a few fixed scope names.
 */
import { LockContext } from '../lib/recipes/lock-context';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { LockService } from '../lib/lock/lock.service';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

describe('runtime scopes', () => {
  afterAll(cleanup);

  it('remember at most 1,000 scope dirs, and lock in forgotten ones as before', async () => {
    const zk = await newService({ namespace: uniqueNamespace('scopes') });
    const backend = new ZookeeperLockBackend(zk);
    const locks = new LockService(backend, zk.options);
    const context = (backend as unknown as { context: LockContext }).context;
    const remembered = () => (context as unknown as { knownDirs: Map<string, unknown> }).knownDirs.size;
    let most = 0;
    for (let i = 0; i < 1_100; i++) {
      await locks.withLock('x', () => undefined, { scope: `tenant-${i}` });
      most = Math.max(most, remembered());
    }
    expect(most).toBeLessThanOrEqual(1_000);
    await locks.withLock('x', () => undefined, { scope: 'tenant-0' }); // forgotten long ago: made known again
    expect(await zk.getChildren(zk.options.namespace)).toHaveLength(1_100);
  }, 60_000);
});
