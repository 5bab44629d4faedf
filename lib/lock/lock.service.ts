import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ZOOKEEPER_LOCK_OPTIONS } from '../module/zookeeper-lock.module-definition';
import { MAX_TIMER_DELAY, validShutdownTimeout } from '../module/zookeeper-lock-options';
import { GrantGoneError, LOCK_BACKEND, LockBackend } from './lock-backend';
import { LockEvent, LockEventListener, notifyListener } from './lock-events';
import { HeldLock, LockDriver, LockHandle, LockHold } from './lock-handle';
import { holdAtLeastProblem, maxHoldProblem } from './hold-limit';
import { Leadership } from './leadership';
import type { InspectOptions, LockInfo } from './lock-info';
import {
  describeLock,
  InvalidLockIdError,
  InvalidLockOptionsError,
  LockConflictError,
  LockHoldExpiredError,
  LockLostError,
  LockUnavailableError,
} from './lock.errors';
import { checkNormalizer, LockIdNormalizer, lockKey, normalizeIds, normalizeScope } from './lock-id';
import { lockScope, runInScope, scopeJoined, scopeReleased } from './lock-scope';
import { lockModeProblem } from './lock-mode';
import { ShutdownGate } from './shutdown-gate';
import { maxWaitersProblem, WaiterLimits, waiterLimits, WaitingRoom } from './waiting-room';
import { LockTelemetry } from '../telemetry/lock-telemetry';

export interface LockOptions {
  /**
   * How long (ms) to wait for a held lock. 0 (default): fail at once with LockConflictError, like
   * `SELECT ... FOR UPDATE NOWAIT`. > 0: queue for it, first come first served. Infinity: wait forever
   * (so does any wait above 2^31-1 ms, about 24.8 days, the longest a Node timer can wait).
   */
  wait?: number;
  /** A sub-namespace, so that ids of different kinds of resources never collide. Default `default`. */
  scope?: string;
  /** Cancels a waiting acquire; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Maps each id before it names a lock (see the module option of that name, which this overrides for the
   * call; `false` turns the module's off).
   */
  normalizeId?: LockIdNormalizer | false;
  /**
   * Longest time (ms) the lock may be held. When it passes, the handle's signal aborts with a
   * LockHoldExpiredError and the lock is released, whatever its holder is doing (a stream under
   * @WithLock is ended). Overrides the module's `maxHold` for this call; Infinity: no limit.
   */
  maxHold?: number;
  /**
   * Shortest time (ms) the lock stays held, counted from when it was granted, even if its holder is done
   * sooner (like ShedLock's `lockAtLeastFor`). For a job that every instance runs on the same schedule:
   * an instance whose tick fires a little later than the winner's finds the lock still held and skips.
   * Nobody waits for it: `release()`, `withLock` and @Locked methods return when the work is done, and
   * the lock is freed in the background once the time has passed. A crash frees it with the session;
   * the application's shutdown frees it at once. Default 0 (freed when its holders are done); at most
   * `maxHold`. A nested acquisition that joins a held lock keeps it at least this long from its join.
   */
  holdAtLeast?: number;
  /**
   * A shared (read) lock, like `SELECT ... FOR SHARE`: any number of shared holders of an id together,
   * none while an exclusive holder holds it, and no exclusive one while shared ones do. Waiting is first
   * come first served across both kinds (a shared caller arriving after a waiting exclusive one waits
   * behind it). Inside a shared hold of an id, an exclusive acquire of the same id is refused with
   * LockConflictError (no silent upgrade). Default false (exclusive).
   */
  shared?: boolean;
  /**
   * A concurrency limit (an integer >= 1): at most this many holders of the id at once, like a semaphore.
   * A limited lock is a lock of its own, apart from the exclusive/shared lock of the same id. Callers of
   * one id should agree on it; when they do not, the smallest limit among the holders and the callers
   * ahead of a caller applies to it, so there are never more holders than the smallest limit a holder
   * asked for. Not with `shared` (InvalidLockOptionsError).
   */
  limit?: number;
}

/** Options of `LockService.leader`. */
export interface LeaderOptions {
  /** As for locks: the election's id lives in this scope. Default `default`. */
  scope?: string;
  /** As for locks (the module's normalizer unless overridden; `false`: none). */
  normalizeId?: LockIdNormalizer | false;
}

/**
 * Code of the process warning emitted, with the module option `lockLostWarning`, when `withLock`'s (or
 * `@Locked`'s) function finished after its lock was lost.
 */
export const LOCK_LOST_WARNING = 'NZL_LOCK_LOST';

/** What LockService reads of the module options. */
export interface LockServiceOptions {
  onLockEvent?: LockEventListener;
  shutdownTimeout?: number;
  normalizeId?: LockIdNormalizer;
  maxHold?: number;
  maxWaiters?: Partial<WaiterLimits>;
  lockLostWarning?: boolean;
}

/**
 * Distributed locks on the application's one ZooKeeper session.
 *
 * ```ts
 * await lockService.withLock(`order:${id}`, async (lock) => { ... });           // fail fast
 * await lockService.withLock(['acct-1', 'acct-2'], fn, { wait: 2000, scope: 'accounts' });
 * await using lock = await lockService.acquire(id);                              // released at scope end
 * ```
 *
 * Shutdown (Nest calls `beforeApplicationShutdown` before it closes the HTTP server and, after that, the
 * ZooKeeper session): from then on no lock is granted (new and queued acquires fail with
 * LockUnavailableError); locks already held finish and release as usual for up to `shutdownTimeout`;
 * what is still held after it is aborted as lost. Losses reported by the backend keep being reported
 * until it completes its `losses` (the ZooKeeper backend: when the session is closed).
 */
@Injectable()
export class LockService implements BeforeApplicationShutdown {
  protected readonly logger = new Logger('ZookeeperLock');
  /** Grants held by at least one handle, not lost. */
  private readonly held = new Set<HeldLock>();
  /**
   * Locks whose holders are all done but whose `holdAtLeast` has not passed yet, with the timer that frees
   * them. Not in `held`: nothing can join them any more, and a loss finds no holder to tell.
   */
  private readonly lingering = new Map<HeldLock, NodeJS.Timeout>();
  /** Backend releases under way (shutdown waits for them). */
  private readonly freeing = new Set<Promise<void>>();
  private readonly gate = new ShutdownGate();
  /** Backend acquires under way (shutdown waits for them to end, refused, before the session closes). */
  private taking = 0;
  /** Set while shutdown waits for held locks to be given up. */
  private onIdle?: () => void;
  private readonly listener?: LockEventListener;
  /** OpenTelemetry instruments; undefined when @opentelemetry/api is not installed. */
  private readonly telemetry = LockTelemetry.create();
  private readonly shutdownTimeout: number;
  private readonly normalizeId?: LockIdNormalizer;
  private readonly maxHold: number;
  /** Emit the NZL_LOCK_LOST process warning (opt-in: the loss is already logged, and on the signal). */
  private readonly lockLostWarning: boolean;
  /** Waiting acquires of this process, bounded by `maxWaiters`. */
  private readonly room: WaitingRoom;
  /** Leaderships not closed yet (the shutdown ends them). */
  private readonly leaderships = new Set<Leadership>();
  private readonly driver: LockDriver = {
    release: (lock) => this.releaseLock(lock),
    fencingToken: (lock) => this.readFencingToken(lock),
    watch: (lock) =>
      this.backend.watch?.(lock.grant, (reason) => {
        if (lock.live) this.loseLock(lock, reason);
      }) ?? noop,
  };

  constructor(
    @Inject(LOCK_BACKEND) private readonly backend: LockBackend,
    @Optional() @Inject(ZOOKEEPER_LOCK_OPTIONS) options?: LockServiceOptions,
  ) {
    this.listener = options?.onLockEvent;
    this.shutdownTimeout = validShutdownTimeout(options?.shutdownTimeout);
    this.normalizeId = checkNormalizer('normalizeId', options?.normalizeId) || undefined;
    this.maxHold = validMaxHold(options?.maxHold) ?? Infinity;
    if (options?.lockLostWarning !== undefined && typeof options.lockLostWarning !== 'boolean') {
      throw new InvalidLockOptionsError(`Option \`lockLostWarning\` must be a boolean, got ${JSON.stringify(options.lockLostWarning)}`);
    }
    this.lockLostWarning = options?.lockLostWarning === true;
    const waitersProblem = options?.maxWaiters === undefined ? undefined : maxWaitersProblem(options.maxWaiters);
    if (waitersProblem) throw new InvalidLockOptionsError(`Option \`maxWaiters\` ${waitersProblem}`);
    this.room = new WaitingRoom(waiterLimits(options?.maxWaiters));
    // Never unsubscribed: a loss must be reported up to the end of the session (the backend completes
    // the stream when it closes), or a lock granted late in a shutdown would outlive its session unnoticed.
    backend.losses.subscribe(({ owner, reason }) => this.loseHeld(owner, reason));
  }

  /**
   * Takes the lock, runs `fn`, and releases on every outcome. Returns `fn`'s result (or throws its error)
   * even if the lock was lost meanwhile: loss is reported through `lock.signal`, a log line, the `lost`
   * event and, with the module option `lockLostWarning`, a process warning (code NZL_LOCK_LOST) once `fn`
   * is done; never by failing work that already happened.
   */
  async withLock<T>(id: string | string[], fn: (lock: LockHandle) => T | Promise<T>, options?: LockOptions): Promise<T> {
    return this.holding(await this.acquire(id, options), fn);
  }

  /**
   * @internal (used by @Locked; not part of the published types)
   * The second half of `withLock`, for a lock already acquired: runs `fn` holding it (see runHolding),
   * releases it on every outcome, and reports a loss that happened meanwhile (or that the release found).
   */
  async holding<T>(lock: LockHandle, fn: (lock: LockHandle) => T | Promise<T>): Promise<T> {
    try {
      return await this.runHolding(lock, () => fn(lock));
    } finally {
      await lock.release().catch((error) => this.logger.error(`Lock release failed: ${(error as Error).message}`));
      if (this.lockLostWarning && (lock instanceof LockHold ? lock.lost : lock.signal.aborted)) {
        process.emitWarning(`withLock finished after its lock was lost: ${(lock.signal.reason as Error).message}`, {
          code: LOCK_LOST_WARNING,
        });
      }
    }
  }

  /**
   * @internal (used by @WithLock; not part of the published types)
   * Runs `fn` in an async context that holds `lock`: nested `withLock`/`acquire` calls on its ids join it
   * instead of conflicting with it, and @CurrentLock() finds it. (withLock and @WithLock do this for you.)
   */
  runHolding<R>(lock: LockHandle, fn: () => R): R {
    const inherited = lockScope.getStore();
    const held = new Map(inherited?.owner === this ? inherited.held : undefined);
    if (lock instanceof LockHold) for (const part of lock.parts) for (const key of part.keys) held.set(key, part);
    // Only a live LockHold is counted: its release() counts it out again (see lock-scope.ts).
    if (!(lock instanceof LockHold) || lock.released) return lockScope.run({ owner: this, held, current: lock }, fn);
    return runInScope(lock, { owner: this, held, current: lock }, fn);
  }

  /**
   * Takes the lock and returns its handle; the caller must `release()` it (or `await using` it).
   *
   * Inside `withLock` (or any context that holds some of the ids), those ids are joined, not taken again:
   * the handle adds a hold on the held lock, which then stays held until every handle holding it released,
   * whoever releases first. Every joined handle's signal aborts when the lock is lost. This is what lets
   * `Promise.all` siblings, fire-and-forget work and async listeners started inside a critical section
   * keep it: they join with a nested `withLock` on the id.
   */
  async acquire(id: string | string[], options: LockOptions = {}): Promise<LockHandle> {
    const scope = normalizeScope(options.scope);
    const normalize = checkNormalizer('normalizeId', options.normalizeId);
    const ids = normalizeIds(id, scope, normalize === undefined ? this.normalizeId : normalize || undefined);
    const wait = normalizeWait(options.wait);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidLockOptionsError('Lock option `signal` must be an AbortSignal');
    }
    const maxHold = validMaxHold(options.maxHold) ?? this.maxHold;
    const holdAtLeast = validHoldAtLeast(options.holdAtLeast, maxHold);
    const mode = lockMode(options.shared, options.limit);
    options.signal?.throwIfAborted();

    const store = lockScope.getStore();
    const inherited = store?.owner === this ? store.held : undefined;
    if (!inherited) {
      const lock = await this.take(ids, scope, wait, maxHold, options.signal, mode);
      lock.keepAtLeast(holdAtLeast, lock.acquiredAt);
      return new LockHold(ids, scope, [lock], lock);
    }
    const joined: HeldLock[] = [];
    const missing: string[] = [];
    for (const each of ids) {
      const holder = inherited.get(heldKey(scope, each, mode));
      if (!holder?.live) missing.push(each);
      else if (holder.mode === 'shared' && mode.kind === 'exclusive') {
        // No silent upgrade: another shared holder may be reading alongside us right now.
        throw new LockConflictError([each], scope, 0);
      } else if (!joined.includes(holder)) joined.push(holder);
    }
    // Hold them now, synchronously: an owner releasing while we take the rest must not free them.
    for (const part of joined) part.hold();
    const joinedAt = performance.now();
    // Counted from the join on, not from the end of the take: the owner may release meanwhile, and the
    // storage must not be turned off while this context holds the joined locks.
    const joining = {};
    if (joined.length > 0) scopeJoined(joining);
    let own: HeldLock | undefined;
    if (missing.length > 0) {
      try {
        own = await this.take(missing, scope, wait, maxHold, options.signal, mode);
      } catch (error) {
        await Promise.all(joined.map((part) => part.unhold())).catch(() => undefined);
        scopeReleased(joining);
        throw error;
      }
      own.keepAtLeast(holdAtLeast, own.acquiredAt);
    }
    // Only once the whole acquire succeeded: a refused one must not keep the joined locks for its holdAtLeast.
    for (const part of joined) part.keepAtLeast(holdAtLeast, joinedAt);
    const hold = new LockHold(ids, scope, own ? [...joined, own] : joined, own);
    // Its joined locks stay live while it holds them: contexts that hold them must stay visible.
    if (joined.length > 0) scopeJoined(hold);
    scopeReleased(joining);
    return hold;
  }

  /**
   * Who holds `id` right now and how many wait for it, read from ZooKeeper (one round trip: the holder
   * node and the queue, read together). A snapshot for operators and admin routes: it may be stale by the
   * time it returns, so never decide to lock on it. With `hashIds`, the id is hashed as for locking.
   * Rejects with InvalidLockIdError or LockUnavailableError.
   */
  async inspect(id: string, options: InspectOptions & { normalizeId?: LockIdNormalizer | false } = {}): Promise<LockInfo> {
    if (!this.backend.inspect) throw new Error('This LockBackend cannot inspect locks');
    const scope = normalizeScope(options.scope);
    const [one] = this.oneId(id, scope, options.normalizeId, 'inspect');
    return this.backend.inspect(scope, one);
  }

  /**
   * Every lock held right now in `scope`, or in every scope of the namespace when none is given. A
   * snapshot that costs one read per scope, per held lock and per non-empty queue (pipelined, at most
   * 200 in flight): for operators and admin routes, not for request paths. With `hashIds`, ids come back
   * as their hashed node names (`h-...`): the ids themselves are not stored anywhere.
   */
  async list(options: InspectOptions = {}): Promise<LockInfo[]> {
    if (!this.backend.list) throw new Error('This LockBackend cannot list locks');
    return this.backend.list(options.scope === undefined ? undefined : normalizeScope(options.scope));
  }

  /**
   * Joins the election for `id` at once and returns this instance's Leadership: a queued lock (wait
   * for ever, no maxHold) held until `close()`, for long-lived singleton work (one instance of the fleet
   * runs the scheduler). `isLeader`, `changes$` (true on gain, false on loss) and `signal` (aborts when
   * the current term ends) tell whether this instance leads; terms of different instances never overlap.
   * After a lost session it joins again on the new one by itself; at application shutdown its term ends
   * and it does not rejoin. Throws InvalidLockIdError, or LockUnavailableError once shutdown began.
   */
  leader(id: string, options: LeaderOptions = {}): Leadership {
    const scope = normalizeScope(options.scope);
    const [one] = this.oneId(id, scope, options.normalizeId, 'leader');
    if (this.gate.closed) throw this.gate.error!;
    const leadership = new Leadership(one, scope, {
      // Outside any lock context of the caller: an election never joins a lock that context holds.
      acquire: (signal) =>
        lockScope.exit(() => this.acquire(one, { scope, wait: Infinity, signal, maxHold: Infinity, normalizeId: false })),
      shuttingDown: () => this.gate.closed,
      finished: (done) => this.leaderships.delete(done),
      logger: this.logger,
    });
    this.leaderships.add(leadership);
    return leadership;
  }

  /**
   * Number of locks this process holds right now (for health checks and tests), those kept after their
   * holders were done (`holdAtLeast`) included.
   */
  get heldCount(): number {
    return this.held.size + this.lingering.size;
  }

  /** Number of acquires of this process waiting for a lock right now (see `maxWaiters`). */
  get waitingCount(): number {
    return this.room.size;
  }

  /**
   * Shutdown, phase one (Nest runs it before closing the HTTP server and the ZooKeeper session): refuse
   * new and queued acquires, let held locks finish for up to `shutdownTimeout`, then abort what is left.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.gate.close(new LockUnavailableError('The application is shutting down: no new locks are granted'));
    // Leaders step down at once (their terms end, then their locks go), so that another instance takes
    // over while this one finishes its requests; pending joins were just cancelled by the gate.
    for (const leadership of [...this.leaderships]) {
      void leadership.end(new LockLostError([leadership.id], leadership.scope, 'the application is shutting down'));
    }
    // Locks kept for their holdAtLeast are freed now: this instance is leaving (its session, which holds
    // them, closes in a moment anyway), and a closing application must not wait for a schedule.
    for (const lock of [...this.lingering.keys()]) this.endLinger(lock);
    if (!this.idle) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        timer = setTimeout(resolve, this.shutdownTimeout);
      });
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    this.loseHeld(undefined, `still held when the shutdown grace period of ${this.shutdownTimeout} ms ended`);
    await this.backend.shutdown();
  }

  /**
   * Reports a lock event to the `onLockEvent` hook. Called only when the hook is set, so that the lock
   * path builds no event objects for nobody.
   */
  protected emit(event: LockEvent): void {
    notifyListener(this.listener, event, this.logger);
  }

  // ---------------------------------------------------------------- machinery

  /** One id (not a list), validated and normalized, for inspect and leader. */
  private oneId(id: unknown, scope: string, normalizeId: LockIdNormalizer | false | undefined, method: string): string[] {
    if (Array.isArray(id)) throw new InvalidLockIdError(`LockService.${method} takes one id, not a list`);
    const normalize = checkNormalizer('normalizeId', normalizeId);
    return normalizeIds(id, scope, normalize === undefined ? this.normalizeId : normalize || undefined);
  }

  private get idle(): boolean {
    return this.held.size === 0 && this.freeing.size === 0 && this.taking === 0;
  }

  private checkIdle(): void {
    if (this.onIdle && this.idle) this.onIdle();
  }

  private async take(ids: string[], scope: string, wait: number, maxHold: number, signal: AbortSignal | undefined, mode: RequestMode): Promise<HeldLock> {
    const started = performance.now();
    // Queued acquires get a signal the shutdown can abort; a fail-fast one is refused when it lands.
    const tracked = wait > 0 && !this.gate.closed ? this.gate.track(signal) : undefined;
    let grant;
    let leave: (() => void) | undefined;
    const observed = this.telemetry?.startAcquire(scope, wait > 0, ids.length);
    this.taking += 1;
    try {
      if (this.gate.closed) throw this.gate.error;
      // A waiting acquire takes a place in the waiting room (refused at once when it is full).
      if (wait > 0) leave = this.room.enter(ids, scope);
      const maxQueue = wait > 0 ? this.room.limits.perId : undefined;
      grant = await this.backend.acquire({
        ids,
        scope,
        wait,
        signal: tracked?.signal ?? signal,
        callerSignal: signal,
        maxQueue,
        ...(mode.kind === 'shared' && { shared: true }),
        ...(mode.kind === 'limited' && { limit: mode.limit }),
      });
    } catch (error) {
      leave?.();
      tracked?.done();
      this.taking -= 1;
      this.checkIdle();
      const waitedMs = performance.now() - started;
      observed?.failed(error, waitedMs, leave !== undefined, signal);
      if (error instanceof LockConflictError) {
        this.logger.debug(`${error.message}`);
        if (this.listener) this.emit({ type: 'conflict', ids, scope, waitedMs });
      } else if (error instanceof LockUnavailableError) {
        if (this.listener) this.emit({ type: 'unavailable', ids, scope, waitedMs, message: error.message });
      }
      throw error;
    }
    leave?.();
    tracked?.done();
    this.taking -= 1;
    if (this.gate.closed) {
      // Granted after the shutdown began: never handed out (its session is about to close under it).
      this.track(this.backend.release(grant)).catch((e) => this.logger.error(`Lock release failed: ${(e as Error).message}`));
      observed?.failed(this.gate.error, performance.now() - started, wait > 0, signal);
      throw this.gate.error;
    }
    const lock = new HeldLock(ids, scope, ids.map((each) => heldKey(scope, each, mode)), grant, this.driver, mode.kind);
    this.held.add(lock);
    if (maxHold !== Infinity) lock.limitHold(maxHold, (expired) => this.expire(expired, maxHold));
    const waitedMs = lock.acquiredAt - started;
    if (wait > 0) this.logger.verbose(`${describeLock(ids, scope)} acquired after ${Math.round(waitedMs)} ms`);
    observed?.acquired(waitedMs);
    if (this.listener) this.emit({ type: 'acquired', ids, scope, queued: wait > 0, waitedMs });
    return lock;
  }

  /**
   * maxHold passed: abort every holder's signal first (they must learn it before anyone else can take
   * the lock), then free it as a release would.
   */
  private expire(lock: HeldLock, maxHold: number): void {
    if (!lock.live) return;
    this.held.delete(lock);
    lock.revoke(() => this.reportLost(lock, new LockHoldExpiredError(lock.ids, lock.scope, maxHold), false)).catch((e) => this.logger.error(`Lock release failed: ${(e as Error).message}`));
  }

  /** Keeps `release` in `freeing` until it settles (shutdown waits for releases under way). */
  private track(release: Promise<void>): Promise<void> {
    this.freeing.add(release);
    const settled = () => {
      this.freeing.delete(release);
      this.checkIdle();
    };
    release.then(settled, settled);
    return release;
  }

  /** The driver's release: the last hold of `lock` was given up. */
  private releaseLock(lock: HeldLock): Promise<void> {
    this.held.delete(lock);
    if (lock.lost && !lock.revoked) {
      this.checkIdle();
      // Lost. Usually with its session, and so its nodes; but a lock whose node someone else deleted
      // lives on in a session that goes on, and what is left of it (a queued grant's waiter node) would
      // block everyone queued behind it: the backend removes what is still provably ours.
      if (!this.backend.discard) return Promise.resolve();
      return this.track(this.backend.discard(lock.grant).catch((e) => this.logger.warn(`Clean-up of a lost lock failed: ${(e as Error).message}`)));
    }
    const keepFor = lock.keepUntil - performance.now();
    if (keepFor > 0 && !lock.lost && !this.gate.closed) {
      this.linger(lock, keepFor);
      return Promise.resolve(); // its holders are done; the lock itself is freed later
    }
    return this.track(this.freeGrant(lock));
  }

  /** Keeps a lock its holders are done with until its holdAtLeast has passed, then frees it. */
  private linger(lock: HeldLock, ms: number): void {
    // Not unref'd, like maxHold's timer: an application closes (freeing it at once) rather than exits.
    this.lingering.set(lock, setTimeout(() => this.endLinger(lock), Math.ceil(ms)));
  }

  /** Frees a kept lock now (its time has passed, or the application is shutting down). */
  private endLinger(lock: HeldLock): void {
    const timer = this.lingering.get(lock);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.lingering.delete(lock);
    this.track(this.freeGrant(lock)).catch((e) => this.logger.error(`Lock release failed: ${(e as Error).message}`));
  }

  /**
   * A kept lock's session ended before its holdAtLeast passed. Its work was done, so nothing was lost and
   * nobody's signal aborts; but another instance may now take it sooner than holdAtLeast meant to allow
   * (a scheduled job may run twice for one tick), which deserves a warning. For events it ends as a release.
   */
  private loseLingering(lock: HeldLock, reason: string): void {
    clearTimeout(this.lingering.get(lock));
    this.lingering.delete(lock);
    const early = Math.max(0, Math.round(lock.keepUntil - performance.now()));
    this.logger.warn(
      `${describeLock(lock.ids, lock.scope)} was freed ${early} ms before its holdAtLeast ended (${reason}); ` +
        'its holder had finished, but another instance may take it sooner than holdAtLeast allows',
    );
    if (this.listener || this.telemetry) this.emitReleased(lock);
  }

  private async freeGrant(lock: HeldLock): Promise<void> {
    // Found after the release returned (its bound on a slow server): said as late as it is known.
    const lateLoss = (error: GrantGoneError) =>
      this.reportLost(lock, `after its release returned, its node was found no longer ours (${error.message})`, true, false);
    try {
      await this.backend.release(lock.grant, lateLoss);
    } catch (error) {
      if (error instanceof GrantGoneError) {
        // Someone deleted our node and another owner took the lock: the backend deleted nothing, and
        // whoever held this lock may have overlapped with that owner. Say so; the release itself succeeded.
        this.reportLost(lock, `at release, its node was no longer ours (${error.message})`, true);
        return;
      }
      if (this.listener || this.telemetry) this.emitReleased(lock);
      throw error;
    }
    if (this.listener || this.telemetry) this.emitReleased(lock);
  }

  private emitReleased(lock: HeldLock): void {
    const heldMs = performance.now() - lock.acquiredAt;
    this.telemetry?.holdEnded(lock.scope, heldMs, 'released');
    if (this.listener) this.emit({ type: 'released', ids: lock.ids, scope: lock.scope, heldMs });
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
    for (const lock of [...this.lingering.keys()]) {
      if (owner === undefined || lock.grant.owner === owner) this.loseLingering(lock, reason);
    }
  }

  private loseLock(lock: HeldLock, reason: string): void {
    this.held.delete(lock);
    this.reportLost(lock, reason, false);
    this.checkIdle();
  }

  /** `endsHold`: false when its hold was counted as ended already (a loss found after the release returned). */
  private reportLost(lock: HeldLock, reason: string | LockLostError, evenIfReleased: boolean, endsHold = true): void {
    if (!lock.lose(reason, evenIfReleased)) return;
    const why = typeof reason === 'string' ? reason : reason.message;
    this.logger.warn(typeof reason === 'string' ? `${describeLock(lock.ids, lock.scope)} lost: ${reason}` : why);
    const heldMs = performance.now() - lock.acquiredAt;
    if (endsHold) this.telemetry?.holdEnded(lock.scope, heldMs, 'lost');
    if (this.listener) this.emit({ type: 'lost', ids: lock.ids, scope: lock.scope, heldMs, reason: why });
  }
}

function noop(): void {}

type RequestMode = { kind: 'exclusive' } | { kind: 'shared' } | { kind: 'limited'; limit: number };

/** The `shared` and `limit` options, checked. */
function lockMode(shared: unknown, limit: unknown): RequestMode {
  const problem = lockModeProblem(shared, limit);
  if (problem) throw new InvalidLockOptionsError(`Lock ${problem}`);
  if (limit !== undefined) return { kind: 'limited', limit: limit as number };
  return shared ? { kind: 'shared' } : { kind: 'exclusive' };
}

/**
 * A held lock's identity for reentrancy: shared and exclusive holds of an id are one lock (a shared
 * acquire inside an exclusive hold joins it); a limited lock of the same id is another one.
 */
function heldKey(scope: string, id: string, mode: RequestMode): string {
  const key = lockKey(scope, id);
  return mode.kind === 'limited' ? `${key}\u0000limited` : key;
}

/** A maxHold option, checked (undefined when not given). */
function validMaxHold(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const problem = maxHoldProblem(value);
  if (problem) throw new InvalidLockOptionsError(`Lock option \`maxHold\` ${problem}`);
  return value as number;
}

/** A holdAtLeast option, checked against the lock's maxHold (0 when not given). */
function validHoldAtLeast(value: unknown, maxHold: number): number {
  if (value === undefined) return 0;
  const problem = holdAtLeastProblem(value, maxHold);
  if (problem) throw new InvalidLockOptionsError(`Lock option \`holdAtLeast\` ${problem}`);
  return value as number;
}

/** 0 fails fast; above the longest timer delay it is Infinity (a longer timer would fire after 1 ms). */
function normalizeWait(wait: unknown): number {
  if (wait === undefined) return 0;
  if (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0) {
    throw new InvalidLockOptionsError(`Lock option \`wait\` must be a number of ms >= 0 (or Infinity), got ${String(wait)}`);
  }
  return wait > MAX_TIMER_DELAY ? Infinity : wait;
}
