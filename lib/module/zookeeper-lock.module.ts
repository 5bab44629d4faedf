import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ZookeeperHealthIndicator } from '../health/zookeeper.health';
import { LOCK_BACKEND } from '../lock/lock-backend';
import { LockService } from '../lock/lock.service';
import { LockedMethodsExplorer } from '../locked/locked.explorer';
import { ZookeeperLockBackend } from '../recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { SessionTelemetry } from '../telemetry/session-telemetry';
import { SessionEventsForwarder } from './session-events.forwarder';
import { ConfigurableModuleClass } from './zookeeper-lock.module-definition';

/**
 * ```ts
 * ZookeeperLockModule.forRoot({ connectionString: 'localhost:2181' })
 * ZookeeperLockModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 * ZookeeperLockModule.forRootAsync({ useClass: LockConfig })   // LockConfig implements ZookeeperLockOptionsFactory
 * ```
 * Global unless `isGlobal: false`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ZookeeperService,
    { provide: LOCK_BACKEND, useClass: ZookeeperLockBackend },
    LockService,
    LockedMethodsExplorer,
    ZookeeperHealthIndicator,
    SessionEventsForwarder,
    SessionTelemetry,
  ],
  exports: [ZookeeperService, LockService, ZookeeperHealthIndicator],
})
export class ZookeeperLockModule extends ConfigurableModuleClass {}
