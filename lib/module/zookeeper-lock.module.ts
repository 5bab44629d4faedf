import { Module } from '@nestjs/common';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ConfigurableModuleClass } from './zookeeper-lock.module-definition';

/**
 * ```ts
 * ZookeeperLockModule.forRoot({ connectionString: 'localhost:2181' })
 * ZookeeperLockModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }), isGlobal: true })
 * ```
 */
@Module({
  providers: [ZookeeperService],
  exports: [ZookeeperService],
})
export class ZookeeperLockModule extends ConfigurableModuleClass {}
