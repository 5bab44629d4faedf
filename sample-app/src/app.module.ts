import { Module } from '@nestjs/common';
import { ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { AccountsController } from './accounts.controller';
import { AccountsStore } from './accounts.store';
import { HealthController } from './health.controller';
import { SettlementJob } from './settlement.job';

@Module({
  imports: [
    // Configuration from the environment, with defaults for a local ZooKeeper (npm run zk).
    ZookeeperLockModule.forRootAsync({
      useFactory: () => ({
        connectionString: process.env.ZOOKEEPER_CONNECT || 'localhost:2181',
        namespace: process.env.LOCK_NAMESPACE || '/sample-app/locks',
        sessionTimeout: Number(process.env.ZOOKEEPER_SESSION_TIMEOUT || 15_000),
        // Clients choose the ids: no lock outlives 10 s, whatever a handler or a client does.
        maxHold: 10_000,
      }),
      isGlobal: true,
    }),
  ],
  controllers: [AccountsController, HealthController],
  providers: [AccountsStore, SettlementJob],
})
export class AppModule {}
