import { LockLostError } from './lock.errors';
import type { LockGrant } from './lock-backend';

/** A held lock. Release it exactly once (further calls are no-ops), or let `withLock` do it. */
export interface LockHandle {
  /** The ids this handle locks, as given. */
  readonly ids: string[];
  readonly scope: string;
  /**
   * Aborted, with a LockLostError as reason, once the lock can no longer be trusted: the ZooKeeper session
   * that holds it expired or was given up after a session timeout without contact. Check it (or listen to
   * it) before side effects that must not run without the lock.
   */
  readonly signal: AbortSignal;
  /**
   * A number that grows with every new holder of any lock in the ensemble (the holder node's creation
   * zxid). Hand it to the storage you write to, so it can refuse writes from a holder that was replaced
   * while paused. Costs one round trip the first time, none after; rejects with LockLostError when lost.
   */
  fencingToken(): Promise<bigint>;
  /** Frees the lock. Idempotent; never deletes a node that is not this acquisition's own. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a HeldLock needs from the service that made it. */
export interface LockDriver {
  release(lock: HeldLock): Promise<void>;
  fencingToken(lock: HeldLock): Promise<bigint>;
}

/** One acquisition, as the backend granted it. */
export class HeldLock implements LockHandle {
  /** Made on first use: most locks are released without anyone looking at their signal. */
  private controller?: AbortController;
  private releasing?: Promise<void>;
  private token?: Promise<bigint>;

  /** `performance.now()` when it was granted (for held-time figures). */
  readonly acquiredAt = performance.now();

  constructor(
    readonly ids: string[],
    readonly scope: string,
    /** Its locks' identities inside this process, for reentrancy. */
    readonly keys: string[],
    readonly grant: LockGrant,
    private readonly driver: LockDriver,
  ) {}

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Lost (its signal aborted), without making a signal just to ask. */
  get lost(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  get released(): boolean {
    return this.releasing !== undefined;
  }

  /** Still held and trusted. */
  get live(): boolean {
    return !this.released && !this.lost;
  }

  fencingToken(): Promise<bigint> {
    if (this.lost) return Promise.reject(this.signal.reason);
    this.token ??= this.driver.fencingToken(this).catch((error) => {
      this.token = undefined; // a failed look-up may be retried
      throw error;
    });
    return this.token;
  }

  release(): Promise<void> {
    this.releasing ??= this.driver.release(this);
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Marks the lock lost: aborts the signal with a LockLostError. */
  lose(reason: string): void {
    if (!this.released && !this.lost) {
      this.controller ??= new AbortController();
      this.controller.abort(new LockLostError(this.ids, this.scope, reason));
    }
  }
}

/**
 * The handle of a nested acquisition inside `withLock` that already holds some of the ids: it joins the
 * held locks instead of conflicting with itself. Releasing it frees only what it acquired itself.
 */
export class JoinedLock implements LockHandle {
  readonly signal: AbortSignal;

  constructor(
    readonly ids: string[],
    readonly scope: string,
    private readonly parts: HeldLock[],
    /** What this nested acquisition took itself (undefined when every id was already held). */
    readonly own: HeldLock | undefined,
  ) {
    this.signal = parts.length === 1 ? parts[0].signal : AbortSignal.any(parts.map((p) => p.signal));
  }

  async fencingToken(): Promise<bigint> {
    const tokens = await Promise.all(this.parts.map((p) => p.fencingToken()));
    return tokens.reduce((max, t) => (t > max ? t : max));
  }

  release(): Promise<void> {
    return this.own ? this.own.release() : Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
