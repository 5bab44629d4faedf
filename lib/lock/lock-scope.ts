import { AsyncLocalStorage } from 'node:async_hooks';
import type { HeldLock, LockHandle } from './lock-handle';

/**
 * What the current async context holds: set by `withLock` and the @WithLock interceptor for the code they
 * run. It makes nested locking on a held id join the held lock (reentrancy, with a hold count: the lock
 * stays until every joined handle released), and lets @CurrentLock() find the handle. Contexts are per
 * async chain, so unrelated concurrent calls never share one; work spawned inside the context (timers,
 * event listeners, promises not awaited) inherits it.
 */
export interface LockScope {
  /** The LockService the held locks belong to (two apps in one process never join each other's). */
  readonly owner: object;
  /** Held locks by lock key (holder path). */
  readonly held: ReadonlyMap<string, HeldLock>;
  /** The innermost lock taken or joined. */
  readonly current: LockHandle;
}

export const lockScope = new AsyncLocalStorage<LockScope>();

/**
 * The lock of the innermost `withLock` / @WithLock around the calling code, if any. Undefined once that
 * handle was released: work spawned inside a critical section that outlives it does not hold the lock
 * unless it joined it (a nested `withLock`/`acquire` on the id while it was held).
 */
export function currentLock(): LockHandle | undefined {
  const current = lockScope.getStore()?.current;
  return current && (current as { released?: boolean }).released === true ? undefined : current;
}
