import { Module } from '@nestjs/common';
import { LOCK_BACKEND } from '../lock/lock-backend';
import { LockService } from '../lock/lock.service';
import { ZookeeperLockBackend } from '../recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ConfigurableModuleClass } from './zookeeper-lock.module-definition';

/**
 * ```ts
 * ZookeeperLockModule.forRoot({ connectionString: 'localhost:2181' })
 * ZookeeperLockModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }), isGlobal: true })
 * ```
 */
@Module({
  providers: [ZookeeperService, { provide: LOCK_BACKEND, useClass: ZookeeperLockBackend }, LockService],
  exports: [ZookeeperService, LockService],
})
export class ZookeeperLockModule extends ConfigurableModuleClass {}
