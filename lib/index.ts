export { ZookeeperLockModule } from './module/zookeeper-lock.module';
export { ZOOKEEPER_LOCK_OPTIONS } from './module/zookeeper-lock.module-definition';
export type { ZookeeperLockModuleOptions, ZookeeperAclEntry } from './module/zookeeper-lock-options.interface';
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
export type { LockOptions } from './lock/lock.service';
export type { LockHandle } from './lock/lock-handle';
export {
  LockError,
  LockConflictError,
  LockUnavailableError,
  InvalidLockIdError,
  InvalidLockOptionsError,
  LockLostError,
} from './lock/lock.errors';
export { WithLock } from './interceptor/with-lock.decorator';
export { WithLockInterceptor } from './interceptor/with-lock.interceptor';
export { CurrentLock } from './interceptor/current-lock.decorator';
export { WITH_LOCK_METADATA } from './interceptor/with-lock.constants';
export type { LockIdSource, WithLockOptions, WithLockMetadata } from './interceptor/with-lock-options.interface';
export { currentLock } from './lock/lock-scope';
