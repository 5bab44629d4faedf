import { Logger } from '@nestjs/common';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { readOwnership, removeRead } from './node-ownership';
import { backoffDelay } from './backoff';

/**
 * Removes nodes we own when a plain remove could not be trusted to have happened: a release that hit a
 * connection loss, a create whose outcome is unknown and that we gave up on, a waiter abandoned mid-way.
 *
 * It never removes someone else's node: a node is ours only if its data is our acquisition's token and
 * its ephemeral owner is our session. It keeps trying across reconnects while that session lives, and
 * stops as soon as the session is gone (ZooKeeper has then removed the ephemeral nodes itself).
 */
export class NodeJanitor {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly zk: ZookeeperService,
    private readonly logger: Logger,
  ) {}

  /** Removes each of `paths` that is still ours. Resolves when done or when the session is over. */
  removeOwned(paths: string[], token: string, sessionId: string): Promise<void> {
    return this.track(this.untilDone(sessionId, async () => {
      for (const path of paths) await this.removeIfOwned(path, token, sessionId);
    }));
  }

  /** Removes our waiter nodes in `dir` (found by token): for a sequential create whose name we never learned. */
  removeOwnedChildren(dir: string, token: string, sessionId: string): Promise<void> {
    return this.track(this.untilDone(sessionId, async () => {
      const children = await this.zk.getChildren(dir).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
      for (const child of children) {
        if (child.includes(token)) await this.removeIfOwned(`${dir}/${child}`, token, sessionId);
      }
    }));
  }

  /** Waits for every cleanup under way (shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    return work.finally(() => this.pending.delete(work));
  }

  private async untilDone(sessionId: string, attempt: () => Promise<void>): Promise<void> {
    for (let failures = 0; ; ) {
      if (this.zk.sessionId !== sessionId) return; // session over: its ephemeral nodes are gone with it
      if (this.zk.state !== 'connected') {
        await this.zk.waitForConnection(this.zk.sessionTimeout);
        continue;
      }
      try {
        await attempt();
        return;
      } catch (error) {
        if (error instanceof ZookeeperError && error.isConnectivity) {
          // Failed while connected (e.g. THROTTLED_OP, or no answer in time): back off before the next
          // try, so that a struggling server is not hammered by a retry loop.
          await pause(backoffDelay(failures++));
          continue;
        }
        this.logger.error(`Could not clean up lock nodes: ${(error as Error).message}`);
        return;
      }
    }
  }

  private async removeIfOwned(path: string, token: string, sessionId: string): Promise<void> {
    const [reading] = await readOwnership(this.zk, [path], token, sessionId);
    if (reading.kind === 'ours') await removeRead(this.zk, [reading]); // not ours (or gone): leave it
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isCode(error: unknown, code: ZookeeperError['code']): boolean {
  return error instanceof ZookeeperError && error.code === code;
}
