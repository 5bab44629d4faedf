/**
 * `nestjs-zookeeper-lock/testing`: run LockService, @WithLock and @Locked without ZooKeeper in unit tests.
 * A separate entry, so that production code never loads test doubles by accident; it shares the main
 * entry's classes (one copy of LockService, the errors, the decorators).
 */
export { ZookeeperLockTestingModule } from './zookeeper-lock-testing.module';
export type { ZookeeperLockTestingOptions, ProviderOverridable } from './zookeeper-lock-testing.module';
export { InMemoryLockBackend, InMemoryLockStore } from './in-memory-lock.backend';
export { OfflineZookeeperService } from './offline-zookeeper.service';
