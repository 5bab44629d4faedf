import { ZookeeperService } from '../zookeeper/zookeeper.service';

/**
 * Stands in for ZookeeperService in applications tested with ZookeeperLockTestingModule.override: it
 * never connects, so start-up does not wait for a server, and anything that talks to ZooKeeper directly
 * fails at once with ZookeeperError UNAVAILABLE (ZookeeperHealthIndicator reports down).
 */
export class OfflineZookeeperService extends ZookeeperService {
  constructor() {
    super({ connectionString: 'zookeeper.invalid:2181' });
  }

  override async connect(): Promise<boolean> {
    return false;
  }
}
