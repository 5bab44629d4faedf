import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';

@Controller('health')
export class HealthController {
  constructor(
    private readonly zookeeper: ZookeeperService,
    private readonly locks: LockService,
  ) {}

  /** 200 while ZooKeeper is connected, 503 otherwise, with the session state either way. */
  @Get()
  health() {
    const report = { zookeeper: this.zookeeper.state, session: this.zookeeper.sessionId ?? null, locksHeld: this.locks.heldCount };
    if (this.zookeeper.state !== 'connected') throw new ServiceUnavailableException(report);
    return report;
  }
}
