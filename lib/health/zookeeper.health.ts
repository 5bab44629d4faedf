import { Injectable } from '@nestjs/common';
import { settleWithin } from '../zookeeper/settle-within';
import { ZookeeperService } from '../zookeeper/zookeeper.service';

/** What `isHealthy` reports under its key; the shape of @nestjs/terminus' HealthIndicatorResult. */
export interface ZookeeperHealthDetails {
  status: 'up' | 'down';
  /** Session state (see ZookeeperService.state). */
  state: string;
  /** Hex id of the session, when there is one. */
  sessionId?: string;
  /** Duration of one read round trip to the server, in ms (when one was made). */
  roundTripMs?: number;
  /** Why it is down. */
  message?: string;
}

export interface ZookeeperHealthOptions {
  /** Longest wait for the round trip, in ms; slower counts as down. Default 1000. */
  timeout?: number;
}

/**
 * A health indicator for @nestjs/terminus (optional: this class does not import it):
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.zookeeper.isHealthy('zookeeper')]); }
 * ```
 * Up when the session is connected, a read round trip to the server completes within the timeout, and the
 * connection string's chroot (if any) exists, and no lock directory was found with a foreign ACL.
 * A down result is returned, not thrown, as terminus 11+ expects of indicators (HealthIndicatorService).
 */
@Injectable()
export class ZookeeperHealthIndicator {
  constructor(private readonly zk: ZookeeperService) {}

  async isHealthy<const Key extends string>(key: Key, options: ZookeeperHealthOptions = {}): Promise<Record<Key, ZookeeperHealthDetails>> {
    const timeout = options.timeout ?? 1000;
    const state = this.zk.state;
    const sessionId = this.zk.sessionId;
    const result = (details: Omit<ZookeeperHealthDetails, 'state' | 'sessionId'>) =>
      ({ [key]: { ...details, state, ...(sessionId ? { sessionId } : {}) } }) as Record<Key, ZookeeperHealthDetails>;
    if (state !== 'connected') return result({ status: 'down', message: `ZooKeeper session is ${state}` });

    const started = performance.now();
    try {
      // `/` is the chroot when there is one: a read that costs the server nothing, and that answers null
      // when the chroot is missing (every lock would then fail with NO_NODE).
      const stat = await settleWithin(this.zk.exists('/'), timeout, () => {
        throw new Error(`no answer within ${timeout} ms`);
      });
      const roundTripMs = round(performance.now() - started);
      if (stat === null) {
        const chroot = this.zk.chroot;
        return result({ status: 'down', roundTripMs, message: `ZooKeeper chroot ${chroot} does not exist: create it (and its parents)` });
      }
      const [problem] = this.zk.healthProblems;
      if (problem) return result({ status: 'down', roundTripMs, message: problem });
      return result({ status: 'up', roundTripMs });
    } catch (error) {
      return result({ status: 'down', roundTripMs: round(performance.now() - started), message: `ZooKeeper: ${(error as Error).message}` });
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
