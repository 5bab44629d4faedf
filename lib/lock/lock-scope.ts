import { AsyncLocalStorage } from 'node:async_hooks';
import type { HeldLock, LockHandle } from './lock-handle';

/**
 * What the current async context holds: set by `withLock` and the @WithLock interceptor for the code they
 * run. It makes nested locking on a held id join the held lock (reentrancy), and lets @CurrentLock()
 * find the handle. Contexts are per async chain, so unrelated concurrent calls never share one.
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

/** The lock of the innermost `withLock` / @WithLock around the calling code, if any. */
export function currentLock(): LockHandle | undefined {
  return lockScope.getStore()?.current;
}
