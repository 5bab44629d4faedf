import { Controller, Get } from '@nestjs/common';
import { ZookeeperService } from 'nestjs-zookeeper-lock';

@Controller('health')
export class HealthController {
  constructor(private readonly zookeeper: ZookeeperService) {}

  @Get()
  health() {
    return { zookeeper: this.zookeeper.state, session: this.zookeeper.sessionId ?? null };
  }
}
