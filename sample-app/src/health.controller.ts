import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ZookeeperHealthIndicator } from 'nestjs-zookeeper-lock';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly zookeeper: ZookeeperHealthIndicator,
  ) {}

  /**
   * 200 while the ZooKeeper session is connected and answers a read within 1 s; 503 otherwise (not
   * connected, no answer, a missing chroot, a lock directory with a foreign ACL), with the reason.
   */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.zookeeper.isHealthy('zookeeper', { timeout: 1_000 })]);
  }
}
