/**
 * The public API of `nestjs-zookeeper-lock`. Everything else under dist/ is internal: the `exports` map
 * refuses deep imports. Test doubles are in `nestjs-zookeeper-lock/testing` (lib/testing/index.ts).
 */
export { ZookeeperLockModule } from './module/zookeeper-lock.module';
export { ZOOKEEPER_LOCK_OPTIONS } from './module/zookeeper-lock.module-definition';
export type { ZookeeperLockModuleAsyncOptions, ZookeeperLockModuleForRootOptions } from './module/zookeeper-lock.module-definition';
export type {
  ZookeeperLockModuleOptions,
  ZookeeperLockOptionsFactory,
  ZookeeperAclEntry,
  ZookeeperTlsOptions,
} from './module/zookeeper-lock-options.interface';
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
  WatchCallback,
} from './zookeeper/zookeeper.service';
export { ZookeeperError, isZookeeperError } from './zookeeper/zookeeper.error';
export type { ZookeeperErrorCode } from './zookeeper/zookeeper.error';
export { LockService, LOCK_LOST_WARNING } from './lock/lock.service';
export type { LockOptions, LeaderOptions } from './lock/lock.service';
export type { Leadership } from './lock/leadership';
export type { LockInfo, LockHolderInfo, LockMode, InspectOptions } from './lock/lock-info';
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
export { LOCKED_METADATA } from './locked/locked.constants';
export type { LockedIdSource, LockedOptions, LockedMetadata } from './locked/locked-options.interface';
export { ZookeeperHealthIndicator } from './health/zookeeper.health';
export type { ZookeeperHealthDetails, ZookeeperHealthOptions } from './health/zookeeper.health';
