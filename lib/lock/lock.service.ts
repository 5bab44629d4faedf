import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Subscription } from 'rxjs';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { acquireFailFast, OwnedNodes } from './fail-fast.recipe';
import { acquireQueued } from './queued.recipe';
import { HeldLock, JoinedLock, LockDriver, LockHandle } from './lock-handle';
import { InvalidLockOptionsError, LockLostError, LockUnavailableError } from './lock.errors';
import { LockContext, unavailable } from './lock-context';
import { normalizeIds, normalizeScope } from './lock-id';
import { LockTarget, lockTargets } from './lock-paths';
import { NodeJanitor } from './node-janitor';
import { lockScope } from './lock-scope';

export interface LockOptions {
  /**
   * How long (ms) to wait for a held lock. 0 (default): fail at once with LockConflictError, like
   * `SELECT ... FOR UPDATE NOWAIT`. > 0: queue for it, first come first served. Infinity: wait forever.
   */
  wait?: number;
  /** A sub-namespace, so that ids of different kinds of resources never collide. Default `default`. */
  scope?: string;
  /** Cancels a waiting acquire; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Code of the process warning emitted when `withLock`'s function finished after its lock was lost. */
export const LOCK_LOST_WARNING = 'NZL_LOCK_LOST';

/**
 * Distributed locks on the application's one ZooKeeper session.
 *
 * ```ts
 * await lockService.withLock(`order:${id}`, async (lock) => { ... });           // fail fast
 * await lockService.withLock(['acct-1', 'acct-2'], fn, { wait: 2000, scope: 'accounts' });
 * await using lock = await lockService.acquire(id);                              // released at scope end
 * ```
 */
@Injectable()
export class LockService implements BeforeApplicationShutdown {
  protected readonly logger = new Logger('ZookeeperLock');
  private readonly janitor: NodeJanitor;
  private readonly context: LockContext;
  private readonly held = new Set<HeldLock>();
  private readonly sessionEvents: Subscription;
  /** Acquisition tokens: a random per-process prefix and a counter (unique, and cheaper than 16 random bytes each). */
  private readonly tokenPrefix = randomBytes(8).toString('hex');
  private tokenCounter = 0;
  private readonly driver: LockDriver = {
    release: (lock) => this.releaseLock(lock),
    fencingToken: (lock) => this.readFencingToken(lock),
  };

  constructor(private readonly zk: ZookeeperService) {
    this.janitor = new NodeJanitor(zk, this.logger);
    this.context = new LockContext(zk, this.janitor);
    this.sessionEvents = zk.state$.subscribe((event) => {
      if ((event.state === 'expired' || event.state === 'lost') && event.sessionId) {
        this.loseSession(event.sessionId, `ZooKeeper session 0x${event.sessionId} ${event.state}`);
      } else if (event.state === 'closed') {
        this.loseSession(undefined, 'the ZooKeeper connection was closed');
      }
    });
  }

  /**
   * Takes the lock, runs `fn`, and releases on every outcome. Returns `fn`'s result (or throws its error)
   * even if the lock was lost meanwhile: loss is reported through `lock.signal`, a log line and a
   * process warning (code NZL_LOCK_LOST), never by failing work that already happened.
   */
  async withLock<T>(id: string | string[], fn: (lock: LockHandle) => T | Promise<T>, options?: LockOptions): Promise<T> {
    const lock = await this.acquire(id, options);
    try {
      return await this.runHolding(lock, () => fn(lock));
    } finally {
      if (lock instanceof HeldLock ? lock.lost : lock.signal.aborted) {
        process.emitWarning(`withLock finished after its lock was lost: ${(lock.signal.reason as Error).message}`, {
          code: LOCK_LOST_WARNING,
        });
      }
      await lock.release().catch((error) => this.logger.error(`Lock release failed: ${(error as Error).message}`));
    }
  }

  /**
   * Runs `fn` in an async context that holds `lock`: nested `withLock`/`acquire` calls on its ids join it
   * instead of conflicting with it, and @CurrentLock() finds it. (withLock and @WithLock do this for you.)
   */
  runHolding<R>(lock: LockHandle, fn: () => R): R {
    const inherited = lockScope.getStore();
    const held = new Map(inherited?.owner === this ? inherited.held : undefined);
    const own = lock instanceof HeldLock ? lock : lock instanceof JoinedLock ? lock.own : undefined;
    if (own) for (const target of own.targets) held.set(target.key, own);
    return lockScope.run({ owner: this, held, current: lock }, fn);
  }

  /**
   * Takes the lock and returns its handle; the caller must `release()` it (or `await using` it).
   * Inside `withLock`, ids the current context already holds are joined, not taken again.
   */
  async acquire(id: string | string[], options: LockOptions = {}): Promise<LockHandle> {
    const ids = normalizeIds(id);
    const scope = normalizeScope(options.scope);
    const wait = normalizeWait(options.wait);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidLockOptionsError('Lock option `signal` must be an AbortSignal');
    }
    options.signal?.throwIfAborted();
    const targets = lockTargets(this.zk.options.namespace, scope, ids);

    const store = lockScope.getStore();
    const inherited = store?.owner === this ? store.held : undefined;
    const joined = new Set<HeldLock>();
    const missing: LockTarget[] = [];
    for (const target of targets) {
      const holder = inherited?.get(target.key);
      if (holder?.live) joined.add(holder);
      else missing.push(target);
    }
    if (joined.size === 0) return this.take(ids, scope, missing, wait, options.signal);
    const own = missing.length > 0 ? await this.take(missing.map((t) => t.id), scope, missing, wait, options.signal) : undefined;
    return new JoinedLock(ids, scope, own ? [...joined, own] : [...joined], own);
  }

  /** Number of locks this process holds right now (for health checks and tests). */
  get heldCount(): number {
    return this.held.size;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.loseSession(undefined, 'the application is shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.janitor.drain(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.zk.options.operationTimeout))),
    ]);
    clearTimeout(timer);
    this.sessionEvents.unsubscribe();
  }

  // ---------------------------------------------------------------- machinery

  private async take(ids: string[], scope: string, targets: LockTarget[], wait: number, signal?: AbortSignal): Promise<HeldLock> {
    const token = this.nextToken();
    const owned = wait === 0 ? await acquireFailFast(this.context, targets, token) : await this.takeQueued(targets, token, wait, signal);
    const lock = new HeldLock(ids, scope, targets, owned, token, wait !== 0, this.driver);
    if (this.zk.sessionId !== owned.sessionId) {
      // The session ended between our create and now: ZooKeeper has dropped the node already.
      throw new LockUnavailableError('ZooKeeper session ended while taking the lock');
    }
    this.held.add(lock);
    return lock;
  }

  private nextToken(): string {
    this.tokenCounter += 1;
    return this.tokenPrefix + this.tokenCounter.toString(16);
  }

  /** Queued acquire of each id in the global order (no deadlock); all or none. */
  private async takeQueued(targets: LockTarget[], token: string, wait: number, signal?: AbortSignal): Promise<OwnedNodes> {
    const limits = { deadline: Date.now() + wait, wait, signal };
    const taken: OwnedNodes[] = [];
    try {
      for (const target of targets) {
        const owned = await acquireQueued(this.context, target, token, limits);
        taken.push(owned);
        if (owned.sessionId !== taken[0].sessionId) throw new LockUnavailableError('ZooKeeper session ended while taking the locks');
      }
    } catch (error) {
      await Promise.all(taken.map((owned, i) => this.releaseNodes(owned, token, [targets[i]])));
      throw error;
    }
    return {
      nodes: taken.flatMap((o) => o.nodes),
      holders: taken.flatMap((o) => o.holders),
      sessionId: taken[0].sessionId,
    };
  }

  private async releaseLock(lock: HeldLock): Promise<void> {
    this.held.delete(lock);
    if (lock.lost) return; // lost: its session, and so its nodes, are gone
    await this.releaseNodes(lock.owned, lock.acquisitionToken, lock.queued ? lock.targets : []);
  }

  /**
   * Deletes an acquisition's nodes in one round trip. Only while the session that made them lives:
   * after that they are gone, and a node of the same name is someone else's. If the outcome is in
   * doubt (connection lost), the janitor checks each node's token before deleting it.
   */
  private async releaseNodes(owned: OwnedNodes, token: string, queues: LockTarget[]): Promise<void> {
    if (this.zk.sessionId !== owned.sessionId) return;
    try {
      if (owned.nodes.length === 1) await this.zk.remove(owned.nodes[0]);
      else await this.zk.multi(owned.nodes.map((path) => ({ op: 'remove' as const, path })));
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (!(error.code === 'NO_NODE' && owned.nodes.length === 1)) {
        if (error.isConnectivity) this.logger.warn(`Lock release interrupted (${error.code}); retrying until the session ends`);
        await this.janitor.removeOwned(owned.nodes, token, owned.sessionId);
      }
    }
    if (queues.length > 0) await Promise.all(queues.map((target) => this.context.removeQueueIfEmpty(target)));
  }

  private async readFencingToken(lock: HeldLock): Promise<bigint> {
    let token = 0n;
    for (const holder of lock.owned.holders) {
      try {
        const { data, stat } = await this.zk.getData(holder);
        if (data.toString() !== lock.acquisitionToken || stat.ephemeralOwner !== lock.owned.sessionId) {
          throw lostOr(lock, 'its node now belongs to someone else');
        }
        if (stat.czxid > token) token = stat.czxid;
      } catch (error) {
        if (error instanceof ZookeeperError && error.code === 'NO_NODE') throw lostOr(lock, 'its node is gone');
        throw error instanceof ZookeeperError ? unavailable(error) : error;
      }
    }
    return token;
  }

  private loseSession(sessionId: string | undefined, reason: string): void {
    for (const lock of this.held) {
      if (sessionId !== undefined && lock.owned.sessionId !== sessionId) continue;
      this.held.delete(lock);
      if (!lock.lost) {
        this.logger.warn(`Lock ${lock.ids.map((i) => JSON.stringify(i)).join(', ')} (scope ${lock.scope}) lost: ${reason}`);
        lock.lose(reason);
      }
    }
  }
}

function lostOr(lock: HeldLock, reason: string): Error {
  lock.lose(reason);
  return (lock.signal.reason as Error | undefined) ?? new LockLostError(lock.ids, lock.scope, reason);
}

function normalizeWait(wait: unknown): number {
  if (wait === undefined) return 0;
  if (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0) {
    throw new InvalidLockOptionsError(`Lock option \`wait\` must be a number of ms >= 0 (or Infinity), got ${String(wait)}`);
  }
  return wait;
}
