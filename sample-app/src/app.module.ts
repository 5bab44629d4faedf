import { Module } from '@nestjs/common';
import { ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { HealthController } from './health.controller';

@Module({
  imports: [
    ZookeeperLockModule.forRootAsync({
      useFactory: () => ({
        connectionString: process.env.ZOOKEEPER_CONNECT || 'localhost:2181',
        namespace: process.env.LOCK_NAMESPACE ?? '/sample-app/locks',
        sessionTimeout: Number(process.env.ZOOKEEPER_SESSION_TIMEOUT ?? 15_000),
      }),
    }),
  ],
  controllers: [HealthController],
})
export class AppModule {}
