import { Logger } from '@nestjs/common';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockUnavailableError } from '../lock/lock.errors';
import type { LockTarget } from './lock-paths';
import { NodeJanitor } from './node-janitor';

/** What the lock recipes share: the connection, the janitor, and the parents known to exist. */
export class LockContext {
  /** Scope directories created (or found) once; the fast path then never checks parents again. */
  private readonly knownDirs = new Map<string, Promise<void>>();
  private readonly madeDirs = new Set<string>();

  /** False once the server answered that it has no container nodes. */
  private containers = true;

  constructor(
    readonly zk: ZookeeperService,
    readonly janitor: NodeJanitor,
    private readonly logger: Pick<Logger, 'warn'> = new Logger('ZookeeperLock'),
  ) {}

  /** Makes sure `dir` exists: one mkdirp per directory for the life of the process (or until forgotten). */
  ensureDir(dir: string): Promise<void> {
    let known = this.knownDirs.get(dir);
    if (!known) {
      known = this.zk.mkdirp(dir).then(
        () => void this.madeDirs.add(dir),
        (error) => {
          this.knownDirs.delete(dir);
          throw error;
        },
      );
      this.knownDirs.set(dir, known);
    }
    return known;
  }

  /** True once `dir` is known to exist: the fast path then skips even the await. */
  hasDir(dir: string): boolean {
    return this.madeDirs.has(dir);
  }

  /** After a NO_NODE on a parent we believed in (someone deleted it): forget it so it is made again. */
  forgetDir(dir: string): void {
    this.knownDirs.delete(dir);
    this.madeDirs.delete(dir);
  }

  /**
   * Creates a lock's queue as a CONTAINER node (ZooKeeper 3.5+): the server deletes it once its last
   * waiter is gone, within `znode.container.checkIntervalMs` (60 s by default), so queues left behind by
   * crashed waiters or an interrupted clean-up never accumulate. A server that does not know containers
   * (UNIMPLEMENTED, ZooKeeper < 3.5) gets persistent queues instead, removed eagerly as before, with a
   * warning once.
   */
  async createQueue(path: string): Promise<void> {
    if (this.containers) {
      try {
        await this.zk.create(path, { mode: 'container' });
        return;
      } catch (error) {
        if (!(error instanceof ZookeeperError && error.code === 'UNIMPLEMENTED')) throw error;
        this.containers = false;
        this.logger.warn(
          'ZooKeeper does not support container nodes (3.5+ needed): lock queues are persistent nodes, removed ' +
            'only when a release or a waiter finds them empty; queues left by crashed waiters stay until then',
        );
      }
    }
    await this.zk.create(path);
  }

  /** Best effort: removes a lock's queue once nobody waits in it (ZooKeeper refuses while not empty). */
  async removeQueueIfEmpty(target: LockTarget): Promise<void> {
    try {
      await this.zk.remove(target.queue);
    } catch {
      // NOT_EMPTY (someone waits), NO_NODE (already gone) or a connection problem: all fine to ignore;
      // the server reaps an empty container queue on its own (see createQueue).
    }
  }

  /**
   * A create whose reply was lost (connection loss, or no answer in time): did it happen? Our token in
   * the node, owned by our session, says yes. The answer is only looked for until `deadline` (the
   * acquire's own bound); when it cannot be had by then, the janitor takes over, so that a node created
   * after all is removed, never orphaned, and the caller gets LockUnavailableError in time.
   */
  async resolveCreate(
    holder: string,
    token: string,
    sessionId: string,
    cause: ZookeeperError,
    deadline: number,
  ): Promise<'ours' | 'absent' | 'taken'> {
    const connected = await this.zk.waitForConnection(deadline - Date.now());
    if (this.zk.sessionId !== sessionId) return 'absent'; // that session is over: whatever it made is gone
    const giveUp = (error: unknown) => {
      void this.janitor.removeOwned([holder], token, sessionId);
      return unavailable(error, cause);
    };
    if (!connected || Date.now() >= deadline) throw giveUp(cause);
    try {
      const { data, stat } = await settleWithin(this.zk.getData(holder), deadline - Date.now(), () => {
        throw cause;
      });
      return data.toString() === token && stat.ephemeralOwner === sessionId ? 'ours' : 'taken';
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') return 'absent';
      throw giveUp(error);
    }
  }
}

/** Maps a ZooKeeper failure to the lock API's error. */
export function unavailable(error: unknown, cause?: unknown): Error {
  if (!(error instanceof ZookeeperError)) return error as Error;
  if (error.code === 'NO_AUTH') {
    return new LockUnavailableError(
      `ZooKeeper refused access to ${error.path ?? 'the lock namespace'} (NO_AUTH): check the module's auth and acl options`,
      { cause: error },
    );
  }
  return new LockUnavailableError(`ZooKeeper unavailable: ${error.message}`, { cause: cause ?? error });
}
