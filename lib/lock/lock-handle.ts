import { LockLostError } from './lock.errors';
import type { LockGrant } from './lock-backend';
import { scopeReleased } from './lock-scope';

/** A held lock. Release it exactly once (further calls are no-ops), or let `withLock` do it. */
export interface LockHandle {
  /** The ids this handle locks, as given. */
  readonly ids: string[];
  readonly scope: string;
  /**
   * Aborted, with a LockLostError as reason, once the lock can no longer be trusted: the ZooKeeper session
   * that holds it expired or was given up after a session timeout without contact, its node turned out to
   * belong to someone else at release, or the application's shutdown grace period ended. Check it (or
   * listen to it) before side effects that must not run without the lock. Every handle that joined the
   * same lock (nested withLock/acquire in its async context) shares this signal.
   */
  readonly signal: AbortSignal;
  /**
   * A number that grows with every new holder of any lock in the ensemble (the holder node's
   * zxid). Hand it to the storage you write to, so it can refuse writes from a holder that was replaced
   * while paused. Costs at most one request the first time (none while the watch set with the acquire
   * vouches for the node), none after; rejects with LockLostError when lost.
   */
  fencingToken(): Promise<bigint>;
  /**
   * Gives up this handle's hold. Idempotent. The lock itself is freed when the last handle holding it
   * (the one that took it, and every one that joined it) has released; until then this resolves at once.
   * Never deletes a node that is not this acquisition's own.
   */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a HeldLock needs from the service that made it. */
export interface LockDriver {
  /** Frees the grant in the backend; called once, when its last hold is given up. */
  release(lock: HeldLock): Promise<void>;
  fencingToken(lock: HeldLock): Promise<bigint>;
  /** Starts watching for the lock being taken away; returns the function that stops it. */
  watch(lock: HeldLock): () => void;
}

/**
 * One acquisition, as the backend granted it, shared by every handle holding it: the handle that took it
 * and the handles that joined it. It is freed when its hold count drops to 0.
 */
export class HeldLock {
  /** Made on first use: most locks are released without anyone looking at their signal. */
  private controller?: AbortController;
  private freeing?: Promise<void>;
  private token?: Promise<bigint>;
  /** Handles holding it. Starts at 1: the handle that took it. */
  private holds = 1;
  /** Stops the watch on its node (set once its signal was read). */
  private unwatch?: () => void;
  /** Fires when it has been held for `maxHold` (only when a limit was asked for). */
  private expiry?: NodeJS.Timeout;
  /** Freed by this process while still held (maxHold): the release must still delete its nodes. */
  private revokedFlag = false;
  /** `performance.now()` before which it is not freed, even once its last hold is given up (holdAtLeast). */
  private keepUntilAt = 0;
  /** `performance.now()` at which its maxHold passes (Infinity: no limit). */
  private holdLimitAt = Infinity;

  /** `performance.now()` when it was granted (for held-time figures). */
  readonly acquiredAt = performance.now();

  constructor(
    readonly ids: string[],
    readonly scope: string,
    /** Its locks' identities inside this process, for reentrancy. */
    readonly keys: string[],
    readonly grant: LockGrant,
    private readonly driver: LockDriver,
    /** How it was taken: a nested exclusive acquire may not join a shared one (no silent upgrade). */
    readonly mode: 'exclusive' | 'shared' | 'limited' = 'exclusive',
  ) {}

  /**
   * Made on first use, and only then is the lock watched (its node deleted by someone else aborts it):
   * a lock whose signal nobody reads costs no watch.
   */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.live) this.unwatch = this.driver.watch(this);
    }
    return this.controller.signal;
  }

  /** Lost (its signal aborted), without making a signal just to ask. */
  get lost(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  /** Its last hold was given up: it is being freed, or was. */
  get released(): boolean {
    return this.freeing !== undefined;
  }

  /** Taken away from its holders by this process (maxHold passed): freed although lost. */
  get revoked(): boolean {
    return this.revokedFlag;
  }

  /** Has a maxHold timer: someone may want to learn when it passes (the interceptor ends the stream). */
  get limited(): boolean {
    return this.expiry !== undefined;
  }

  /** Still held by some handle and trusted: a nested acquire may join it. */
  get live(): boolean {
    return !this.released && !this.lost;
  }

  /**
   * When (`performance.now()`) it may be freed at the earliest: the latest of its holders' `holdAtLeast`
   * ends. Its release waits until then, in the background (LockService keeps it meanwhile).
   */
  get keepUntil(): number {
    return this.keepUntilAt;
  }

  /** Keeps it at least `ms` from `from` (default now: a handle that joins it later asks from its join). */
  keepAtLeast(ms: number, from = performance.now()): void {
    // Never past its maxHold: a handle that joined with a longer holdAtLeast cannot stretch the lock's limit.
    if (ms > 0) this.keepUntilAt = Math.max(this.keepUntilAt, Math.min(from + ms, this.holdLimitAt));
  }

  /** One more handle holds it (a nested acquire joined it). Only while live. */
  hold(): void {
    this.holds += 1;
  }

  /** A handle gave up its hold; the last one frees the lock. */
  unhold(): Promise<void> {
    if (this.freeing) return this.freeing;
    this.holds -= 1;
    if (this.holds > 0) return Promise.resolve();
    clearTimeout(this.expiry);
    this.unwatch?.(); // before our own delete fires it
    this.freeing = this.driver.release(this);
    return this.freeing;
  }

  /** Calls `onExpired` once it has been held `ms` (unless freed or lost first). */
  limitHold(ms: number, onExpired: (lock: HeldLock) => void): void {
    this.holdLimitAt = performance.now() + ms;
    this.expiry = setTimeout(() => onExpired(this), ms);
  }

  /**
   * Frees it now, whoever still holds it. `announce` aborts its signal first, so that its holders learn
   * it before another owner can take it; a holder that releases from its abort listener already frees
   * it for real (it is marked revoked before). Later releases resolve with this one.
   */
  revoke(announce: () => void): Promise<void> {
    if (this.freeing) return this.freeing;
    this.revokedFlag = true;
    this.unwatch?.();
    announce();
    this.freeing ??= this.driver.release(this);
    return this.freeing;
  }

  fencingToken(): Promise<bigint> {
    if (this.lost) return Promise.reject(this.signal.reason);
    // Freed already (its last hold given up): it holds nothing, and a token asked for now could be the
    // next holder's (a lock handed over inside the process keeps its node). One asked for before is kept.
    if (this.released && !this.token) return Promise.reject(new LockLostError(this.ids, this.scope, 'it was released'));
    this.token ??= this.driver.fencingToken(this).catch((error) => {
      this.token = undefined; // a failed look-up may be retried
      throw error;
    });
    return this.token;
  }

  /**
   * Marks the lock lost: aborts the signal with a LockLostError. `evenIfReleased`: the release itself found
   * the lock gone (its node was someone else's), which its holders must still learn.
   */
  lose(reason: string | LockLostError, evenIfReleased = false): boolean {
    if (this.lost || (this.released && !evenIfReleased)) return false;
    clearTimeout(this.expiry);
    this.unwatch?.();
    this.controller ??= new AbortController();
    this.controller.abort(typeof reason === 'string' ? new LockLostError(this.ids, this.scope, reason) : reason);
    return true;
  }
}

/**
 * What `acquire` hands out: a hold on one HeldLock (the common case), or, for a nested acquisition inside
 * `withLock` that already holds some of the ids, holds on the joined locks plus the one it took itself.
 */
export class LockHold implements LockHandle {
  private joinedSignal?: AbortSignal;
  private releasing?: Promise<void>;

  constructor(
    readonly ids: string[],
    readonly scope: string,
    /** Every lock this handle holds (each has counted this handle's hold). */
    readonly parts: HeldLock[],
    /** What this acquisition took itself (undefined when every id was joined). */
    readonly own: HeldLock | undefined,
  ) {}

  /** Made on first use, like HeldLock's. */
  get signal(): AbortSignal {
    if (this.parts.length === 1) return this.parts[0].signal;
    this.joinedSignal ??= AbortSignal.any(this.parts.map((p) => p.signal));
    return this.joinedSignal;
  }

  /** Some lock it holds was lost, without making a signal just to ask. */
  get lost(): boolean {
    return this.parts.some((p) => p.lost);
  }

  /** This handle's hold was given up. */
  get released(): boolean {
    return this.releasing !== undefined;
  }

  async fencingToken(): Promise<bigint> {
    if (this.parts.length === 1) return this.parts[0].fencingToken();
    const tokens = await Promise.all(this.parts.map((p) => p.fencingToken()));
    return tokens.reduce((max, t) => (t > max ? t : max));
  }

  release(): Promise<void> {
    if (this.releasing) return this.releasing;
    scopeReleased(this);
    this.releasing =
      this.parts.length === 1 ? this.parts[0].unhold() : Promise.all(this.parts.map((p) => p.unhold())).then(() => undefined);
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
