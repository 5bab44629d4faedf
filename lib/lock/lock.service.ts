import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { ZOOKEEPER_LOCK_OPTIONS } from '../module/zookeeper-lock.module-definition';
import { GrantGoneError, LOCK_BACKEND, LockBackend } from './lock-backend';
import { LockEvent, LockEventListener, notifyListener } from './lock-events';
import { HeldLock, JoinedLock, LockDriver, LockHandle } from './lock-handle';
import { describeLock, InvalidLockOptionsError, LockConflictError, LockLostError, LockUnavailableError } from './lock.errors';
import { lockKey, normalizeIds, normalizeScope } from './lock-id';
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
  private readonly held = new Set<HeldLock>();
  private readonly losses: Subscription;
  private readonly listener?: LockEventListener;
  private readonly driver: LockDriver = {
    release: (lock) => this.releaseLock(lock),
    fencingToken: (lock) => this.readFencingToken(lock),
  };

  constructor(
    @Inject(LOCK_BACKEND) private readonly backend: LockBackend,
    @Optional() @Inject(ZOOKEEPER_LOCK_OPTIONS) options?: { onLockEvent?: LockEventListener },
  ) {
    this.listener = options?.onLockEvent;
    this.losses = backend.losses.subscribe(({ owner, reason }) => this.loseHeld(owner, reason));
  }

  /**
   * Takes the lock, runs `fn`, and releases on every outcome. Returns `fn`'s result (or throws its error)
   * even if the lock was lost meanwhile: loss is reported through `lock.signal`, a log line and a
   * process warning (code NZL_LOCK_LOST), never by failing work that already happened.
   */
  async withLock<T>(id: string | string[], fn: (lock: LockHandle) => T | Promise<T>, options?: LockOptions): Promise<T> {
    return this.holding(await this.acquire(id, options), fn);
  }

  /**
   * The second half of `withLock`, for a lock already acquired: runs `fn` holding it (see runHolding),
   * reports a loss that happened meanwhile, and releases it on every outcome.
   */
  async holding<T>(lock: LockHandle, fn: (lock: LockHandle) => T | Promise<T>): Promise<T> {
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
    if (own) for (const key of own.keys) held.set(key, own);
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

    const store = lockScope.getStore();
    const inherited = store?.owner === this ? store.held : undefined;
    const joined = new Set<HeldLock>();
    const missing: string[] = [];
    for (const each of ids) {
      const holder = inherited?.get(lockKey(scope, each));
      if (holder?.live) joined.add(holder);
      else missing.push(each);
    }
    if (joined.size === 0) return this.take(ids, scope, wait, options.signal);
    const own = missing.length > 0 ? await this.take(missing, scope, wait, options.signal) : undefined;
    return new JoinedLock(ids, scope, own ? [...joined, own] : [...joined], own);
  }

  /** Number of locks this process holds right now (for health checks and tests). */
  get heldCount(): number {
    return this.held.size;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.loseHeld(undefined, 'the application is shutting down');
    await this.backend.shutdown();
    this.losses.unsubscribe();
  }

  /**
   * Reports a lock event to the `onLockEvent` hook. Called only when the hook is set, so that the lock
   * path builds no event objects for nobody.
   */
  protected emit(event: LockEvent): void {
    notifyListener(this.listener, event, this.logger);
  }

  // ---------------------------------------------------------------- machinery

  private async take(ids: string[], scope: string, wait: number, signal?: AbortSignal): Promise<HeldLock> {
    const started = performance.now();
    let grant;
    try {
      grant = await this.backend.acquire({ ids, scope, wait, signal });
    } catch (error) {
      const waitedMs = performance.now() - started;
      if (error instanceof LockConflictError) {
        this.logger.debug(`${error.message}`);
        if (this.listener) this.emit({ type: 'conflict', ids, scope, waitedMs });
      } else if (error instanceof LockUnavailableError) {
        if (this.listener) this.emit({ type: 'unavailable', ids, scope, waitedMs, message: error.message });
      }
      throw error;
    }
    const lock = new HeldLock(ids, scope, ids.map((each) => lockKey(scope, each)), grant, this.driver);
    this.held.add(lock);
    const waitedMs = lock.acquiredAt - started;
    if (wait > 0) this.logger.verbose(`${describeLock(ids, scope)} acquired after ${Math.round(waitedMs)} ms`);
    if (this.listener) this.emit({ type: 'acquired', ids, scope, queued: wait > 0, waitedMs });
    return lock;
  }

  private async releaseLock(lock: HeldLock): Promise<void> {
    this.held.delete(lock);
    if (lock.lost) return; // lost: its session, and so its nodes, are gone
    if (!this.listener) return this.backend.release(lock.grant);
    try {
      await this.backend.release(lock.grant);
    } finally {
      this.emit({ type: 'released', ids: lock.ids, scope: lock.scope, heldMs: performance.now() - lock.acquiredAt });
    }
  }

  private async readFencingToken(lock: HeldLock): Promise<bigint> {
    try {
      return await this.backend.fencingToken(lock.grant);
    } catch (error) {
      if (!(error instanceof GrantGoneError)) throw error;
      this.loseLock(lock, error.message);
      throw (lock.signal.reason as Error | undefined) ?? new LockLostError(lock.ids, lock.scope, error.message);
    }
  }

  /** Marks held locks lost: those of one owner (session), or all. */
  private loseHeld(owner: string | undefined, reason: string): void {
    for (const lock of this.held) {
      if (owner === undefined || lock.grant.owner === owner) this.loseLock(lock, reason);
    }
  }

  private loseLock(lock: HeldLock, reason: string): void {
    this.held.delete(lock);
    if (lock.lost || lock.released) return;
    this.logger.warn(`${describeLock(lock.ids, lock.scope)} lost: ${reason}`);
    lock.lose(reason);
    if (this.listener) this.emit({ type: 'lost', ids: lock.ids, scope: lock.scope, heldMs: performance.now() - lock.acquiredAt, reason });
  }
}


function normalizeWait(wait: unknown): number {
  if (wait === undefined) return 0;
  if (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0) {
    throw new InvalidLockOptionsError(`Lock option \`wait\` must be a number of ms >= 0 (or Infinity), got ${String(wait)}`);
  }
  return wait;
}
