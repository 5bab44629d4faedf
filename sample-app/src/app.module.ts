import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { AccountsController } from './accounts.controller';
import { AccountsStore } from './accounts.store';
import { AdminController } from './admin.controller';
import { HealthController } from './health.controller';
import { sampleConfig, SampleConfigService } from './sample.config';
import { SettlementJob } from './settlement.job';

@Module({
  imports: [
    // Settings from the environment (see sample.config.ts), read when the application is created.
    ConfigModule.forRoot({ isGlobal: true, load: [sampleConfig] }),
    // One ZooKeeper session per application; global by default, so every module can lock.
    ZookeeperLockModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: SampleConfigService) => ({
        ...config.get('sample.zookeeper', { infer: true }),
        // Clients choose the ids: no lock outlives 10 s, whatever a handler or a client does.
        maxHold: 10_000,
      }),
    }),
    ScheduleModule.forRoot(), // @Cron for the settlement job
    TerminusModule, // GET /health with the library's ZookeeperHealthIndicator
  ],
  controllers: [AccountsController, AdminController, HealthController],
  providers: [AccountsStore, SettlementJob],
})
export class AppModule {}
