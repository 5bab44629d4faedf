/** A LockService outside Nest, on a ZookeeperService of the test's own (for tests that need several sessions). */
import { LockService } from '../../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';

export function newLockService(zk: ZookeeperService): LockService {
  return new LockService(new ZookeeperLockBackend(zk), zk.options);
}
