import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LOCK_BACKEND } from '../lock/lock-backend';
import type { LockErrorFactory } from '../interceptor/with-lock-options.interface';
import type { LockEventListener } from '../lock/lock-events';
import type { LockIdNormalizer } from '../lock/lock-id';
import { LockService } from '../lock/lock.service';
import { LockedMethodsExplorer } from '../locked/locked.explorer';
import { ZOOKEEPER_LOCK_OPTIONS } from '../module/zookeeper-lock.module-definition';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { InMemoryLockBackend } from './in-memory-lock.backend';
import { OfflineZookeeperService } from './offline-zookeeper.service';

export interface ZookeeperLockTestingOptions {
  /** Default true, like a typical `ZookeeperLockModule.forRoot({ ..., isGlobal: true })`. */
  isGlobal?: boolean;
  onLockEvent?: LockEventListener;
  /** As ZookeeperLockModule's: grace period (ms) for held locks at application shutdown. Default 10000. */
  shutdownTimeout?: number;
  /** As ZookeeperLockModule's: maps every lock id before it names a lock. */
  normalizeId?: LockIdNormalizer;
  /** As ZookeeperLockModule's: longest time (ms) a lock may be held. Default Infinity. */
  maxHold?: number;
  /** As ZookeeperLockModule's: bounds on waiting acquires (counted in this process). */
  maxWaiters?: { perId?: number; perProcess?: number };
  /** As ZookeeperLockModule's: who this instance is, as `inspect` and `list` report it. Default `<hostname>/<pid>`. */
  ownerName?: string;
  /** As ZookeeperLockModule's: also emit the NZL_LOCK_LOST process warning. Default false. */
  lockLostWarning?: boolean;
  /** As ZookeeperLockModule's: builds what @WithLock throws when it cannot lock. */
  errorFactory?: LockErrorFactory;
  /** As ZookeeperLockModule's: puts the lock ids in @WithLock's default answers. */
  exposeLockIds?: boolean;
}

/** What `override` needs of @nestjs/testing's TestingModuleBuilder (so the library does not import it). */
export interface ProviderOverridable<B> {
  overrideProvider(token: unknown): { useValue(value: unknown): B };
}

/**
 * LockService, @WithLock and @Locked without ZooKeeper, for single-process unit tests of code that uses
 * locks. Same semantics as the real module, on an InMemoryLockBackend that tests use to make a lock
 * "held elsewhere", end the session, or make ZooKeeper "unavailable". Two ways in:
 *
 * ```ts
 * // 1. The application module imports ZookeeperLockModule: swap its providers.
 * const backend = new InMemoryLockBackend();
 * const moduleRef = await ZookeeperLockTestingModule.override(Test.createTestingModule({ imports: [AppModule] }), backend)
 *   .compile();
 * backend.holdElsewhere('acct-1');        // the next request on acct-1 gets 409
 *
 * // 2. A test module of your own: import this one instead of ZookeeperLockModule.
 * Test.createTestingModule({ imports: [ZookeeperLockTestingModule.forRoot()], controllers: [AccountsController] })
 * moduleRef.get(InMemoryLockBackend).holdElsewhere('acct-1');
 * ```
 * With `override`, ZookeeperService is an OfflineZookeeperService (never connects); `forRoot` provides
 * none, so code that injects ZookeeperService or ZookeeperHealthIndicator needs `override`.
 */
@Module({})
export class ZookeeperLockTestingModule {
  static forRoot(options: ZookeeperLockTestingOptions = {}): DynamicModule {
    return {
      module: ZookeeperLockTestingModule,
      global: options.isGlobal ?? true,
      imports: [DiscoveryModule],
      providers: [
        {
          provide: ZOOKEEPER_LOCK_OPTIONS,
          useValue: { onLockEvent: options.onLockEvent, shutdownTimeout: options.shutdownTimeout, normalizeId: options.normalizeId, maxHold: options.maxHold, maxWaiters: options.maxWaiters, lockLostWarning: options.lockLostWarning, errorFactory: options.errorFactory, exposeLockIds: options.exposeLockIds, ownerName: options.ownerName },
        },
        InMemoryLockBackend,
        { provide: LOCK_BACKEND, useExisting: InMemoryLockBackend },
        LockService,
        LockedMethodsExplorer,
      ],
      exports: [LockService, InMemoryLockBackend],
    };
  }

  /**
   * Makes an application that imports ZookeeperLockModule run on `backend` instead of ZooKeeper, in a
   * test built with @nestjs/testing. (Nest's overrideModule cannot match a `forRoot(...)` module, as it
   * compares module objects, so this overrides the module's providers instead.)
   */
  static override<B>(builder: ProviderOverridable<B>, backend: InMemoryLockBackend = new InMemoryLockBackend()): B {
    const withBackend = builder.overrideProvider(LOCK_BACKEND).useValue(backend) as unknown as ProviderOverridable<B>;
    return withBackend.overrideProvider(ZookeeperService).useValue(new OfflineZookeeperService());
  }
}
