import { Module } from '@nestjs/common';
import { LockService } from '../lock/lock.service';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ConfigurableModuleClass } from './zookeeper-lock.module-definition';

/**
 * ```ts
 * ZookeeperLockModule.forRoot({ connectionString: 'localhost:2181' })
 * ZookeeperLockModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }), isGlobal: true })
 * ```
 */
@Module({
  providers: [ZookeeperService, LockService],
  exports: [ZookeeperService, LockService],
})
export class ZookeeperLockModule extends ConfigurableModuleClass {}
