export { ZookeeperLockModule } from './module/zookeeper-lock.module';
export { ZOOKEEPER_LOCK_OPTIONS } from './module/zookeeper-lock.module-definition';
export type { ZookeeperLockModuleOptions, ZookeeperAclEntry, ZookeeperTlsOptions } from './module/zookeeper-lock-options.interface';
export { InvalidZookeeperLockOptionsError } from './module/zookeeper-lock-options';
export { ZookeeperService } from './zookeeper/zookeeper.service';
export type {
  ZookeeperState,
  ZookeeperStateEvent,
  CreateMode,
  CreateResult,
  NodeStat,
  MultiOp,
  MultiResult,
} from './zookeeper/zookeeper.service';
export { ZookeeperError, isZookeeperError } from './zookeeper/zookeeper.error';
export type { ZookeeperErrorCode } from './zookeeper/zookeeper.error';
export { LockService, LOCK_LOST_WARNING } from './lock/lock.service';
export type { LockServiceOptions } from './lock/lock.service';
export { LOCK_BACKEND } from './lock/lock-backend';
export type { LockBackend, LockRequest, LockGrant, GrantLoss } from './lock/lock-backend';
export { GrantGoneError } from './lock/lock-backend';
export type {
  LockEvent,
  LockEventListener,
  LockAcquiredEvent,
  LockConflictEvent,
  LockReleasedEvent,
  LockLostEvent,
  LockUnavailableEvent,
  SessionStateEvent,
} from './lock/lock-events';
export { ZookeeperLockBackend } from './recipes/zookeeper-lock.backend';
export type { LockOptions } from './lock/lock.service';
export type { LockIdNormalizer } from './lock/lock-id';
export type { LockHandle } from './lock/lock-handle';
export {
  LockError,
  LockConflictError,
  LockUnavailableError,
  InvalidLockIdError,
  InvalidLockOptionsError,
  LockLostError,
  LockHoldExpiredError,
  LockQueueFullError,
} from './lock/lock.errors';
export { WithLock } from './interceptor/with-lock.decorator';
export { WithLockInterceptor } from './interceptor/with-lock.interceptor';
export { CurrentLock } from './interceptor/current-lock.decorator';
export { SkipLock } from './interceptor/skip-lock.decorator';
export { WITH_LOCK_METADATA, SKIP_LOCK_METADATA } from './interceptor/with-lock.constants';
export type { LockIdSource, WithLockOptions, WithLockMetadata, LockErrorFactory } from './interceptor/with-lock-options.interface';
export type { LockErrorBody } from './interceptor/lock-error-body';
export { currentLock } from './lock/lock-scope';
export { Locked } from './locked/locked.decorator';
export { LockedMethodsExplorer } from './locked/locked.explorer';
export { LOCKED_METADATA } from './locked/locked.constants';
export type { LockedIdSource, LockedOptions, LockedMetadata } from './locked/locked-options.interface';
export { ZookeeperHealthIndicator } from './health/zookeeper.health';
export type { ZookeeperHealthDetails, ZookeeperHealthOptions } from './health/zookeeper.health';
export { ZookeeperLockTestingModule } from './testing/zookeeper-lock-testing.module';
export type { ZookeeperLockTestingOptions, ProviderOverridable } from './testing/zookeeper-lock-testing.module';
export { InMemoryLockBackend, InMemoryLockStore } from './testing/in-memory-lock.backend';
export { OfflineZookeeperService } from './testing/offline-zookeeper.service';
