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
    return this.track(this.untilDone(sessionId, async () => void (await this.removeChildren(dir, token, sessionId))));
  }

  /**
   * removeOwnedChildren for a lock's queue: a queue it leaves empty is removed too (ZooKeeper refuses
   * while anyone waits in it). The stray it removes may be the last node in the queue after everyone
   * else's release or leave ran, and none of them could remove the queue while the stray was there. Only
   * for queues: a queue path is never a holder node, so its plain remove can only be a queue's.
   */
  sweepQueue(queue: string, token: string, sessionId: string): Promise<void> {
    let emptied = false; // kept across tries: a try after a failed queue remove finds no stray any more
    return this.track(this.untilDone(sessionId, async () => {
      if (await this.removeChildren(queue, token, sessionId)) emptied = true;
      if (!emptied) return;
      await this.zk.remove(queue).catch((e) => (isCode(e, 'NOT_EMPTY') || isCode(e, 'NO_NODE') ? undefined : Promise.reject(e)));
    }));
  }

  /**
   * Work that goes on after its caller was answered (an acquire answered late: its recipe still gives up,
   * or its grant is released), counted with the cleanups under way, so that drain() waits for it too.
   */
  follow(work: Promise<unknown>): Promise<void> {
    return this.track(work.then(
      () => undefined,
      () => undefined,
    ));
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

  /** Removes our nodes among `dir`'s children; true when one was ours. */
  private async removeChildren(dir: string, token: string, sessionId: string): Promise<boolean> {
    const children = await this.zk.getChildren(dir).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
    let removed = false;
    for (const child of children) {
      if (child.includes(token) && (await this.removeIfOwned(`${dir}/${child}`, token, sessionId))) removed = true;
    }
    return removed;
  }

  /** True when the node was ours (and is removed now, unless it changed at that very moment). */
  private async removeIfOwned(path: string, token: string, sessionId: string): Promise<boolean> {
    const [reading] = await readOwnership(this.zk, [path], token, sessionId);
    if (reading.kind !== 'ours') return false; // not ours (or gone): leave it
    await removeRead(this.zk, sessionId, [reading]);
    return true;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isCode(error: unknown, code: ZookeeperError['code']): boolean {
  return error instanceof ZookeeperError && error.code === code;
}
