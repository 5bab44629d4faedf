import type { Observable } from 'rxjs';
import type { LockInfo } from './lock-info';

/**
 * Where locks are kept. LockService does the part every backend shares (validation, reentrancy, handles,
 * loss reporting, events); a backend only takes, frees and vouches for locks:
 * - ZookeeperLockBackend (lib/recipes): the real thing, ephemeral nodes on the application's session;
 * - InMemoryLockBackend (lib/testing): the same semantics inside one process, for users' unit tests.
 */
export interface LockBackend {
  /**
   * Takes every id of the request, or none. Rejects with LockConflictError (held; with `wait`, not freed
   * in time), LockUnavailableError, or the signal's reason when aborted.
   */
  acquire(request: LockRequest): Promise<LockGrant>;
  /**
   * Frees a grant that was not lost. Never frees anything that is not this grant's own. Rejects with
   * GrantGoneError when the grant turns out lost; a backend whose release returns before it is done (a
   * bound on a slow server) tells a loss found after that to `onLateLoss`.
   */
  release(grant: LockGrant, onLateLoss?: (error: GrantGoneError) => void): Promise<void>;
  /**
   * Optional: removes what is left of a LOST grant (never anything that is not provably its own), for
   * backends where a grant can be lost while its owner lives on (its node deleted by someone else).
   */
  discard?(grant: LockGrant): Promise<void>;
  /** The grant's fencing token; rejects with GrantGoneError when the grant is no longer held. */
  fencingToken(grant: LockGrant): Promise<bigint>;
  /**
   * Optional: watch a grant, and call `onGone` once when it is taken away by someone else (its node
   * deleted or overwritten) while held. Returns the function that stops watching (called before every
   * release). Set only when a holder looks at the lock's signal, so that unwatched locks cost nothing.
   */
  watch?(grant: LockGrant, onGone: (reason: string) => void): () => void;
  /**
   * Who holds `id` of `scope` right now, and how many wait for it (a snapshot). `id` is valid and
   * normalized; a backend that names locks by a hash of the id (hashIds) hashes it as for acquire.
   * Optional for backends of your own (LockService.inspect then throws); both of the library's have it.
   */
  inspect?(scope: string, id: string): Promise<LockInfo>;
  /**
   * Every lock held right now in `scope`, or in every scope when undefined (a snapshot; reads every node,
   * so it costs in proportion to the number of locks). Sorted by scope, then id.
   */
  list?(scope?: string): Promise<LockInfo[]>;
  /** Emits when grants stop being trustworthy: those of one owner (session), or all of them. */
  readonly losses: Observable<GrantLoss>;
  /** At application shutdown, after every grant was given up: finishes pending clean-up, bounded in time. */
  shutdown(): Promise<void>;
}

/** Injection token of the LockBackend that LockService uses. */
export const LOCK_BACKEND = Symbol('LOCK_BACKEND');

export interface LockRequest {
  /** Valid ids (see lock-id.ts) without duplicates. A backend takes them in one global order (no deadlock). */
  readonly ids: string[];
  readonly scope: string;
  /** 0: fail at once when held; > 0 (or Infinity): queue, first come first served, this many ms. */
  readonly wait: number;
  readonly signal?: AbortSignal;
  /**
   * The caller's own signal, when `signal` is one derived from it (LockService's, which the shutdown
   * aborts too). The derived one hears of the caller's abort through a listener, so after listeners added
   * earlier have run; a decision that must see the abort at once (a hand-over) asks this one as well.
   */
  readonly callerSignal?: AbortSignal;
  /**
   * Waiting acquires only: refuse with LockQueueFullError when more than this many callers already wait
   * in the id's queue (all processes), when the backend can see that at no extra cost.
   */
  readonly maxQueue?: number;
  /** Shared (read) lock: any number of shared holders together, none while an exclusive one holds. */
  readonly shared?: boolean;
  /** Concurrency limit: at most this many holders at once (an integer >= 1); never with `shared`. */
  readonly limit?: number;
}

/** What a backend hands back for one acquisition; backends extend it with their own bookkeeping. */
export interface LockGrant {
  /** The owner whose end loses the grant (for ZooKeeper, the session id). */
  readonly owner: string;
}

export interface GrantLoss {
  /** Only grants of this owner are lost; undefined: all of them. */
  readonly owner?: string;
  readonly reason: string;
}

/** A backend's answer when a grant turns out not to be held any more (the service then marks it lost). */
export class GrantGoneError extends Error {
  override readonly name = 'GrantGoneError';
}
