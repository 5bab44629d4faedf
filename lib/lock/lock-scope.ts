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
 * Handles whose lock an async context may still join: those entered with `runHolding` (withLock,
 * @WithLock, @Locked) and those that joined a held lock, until each is released.
 *
 * Why: on Node 20 and 22 an enabled AsyncLocalStorage runs a promise hook on every promise the process
 * makes, in every route, locked or not (about 0.1 µs per awaited promise; `npm run bench:http`'s last row,
 * a route with no lock while one is held elsewhere, pays up to about 12 % more CPU per request). So the storage is enabled only while a context holding a
 * live lock can exist, and disabled again when the last such handle is released. What a disabled storage
 * hides then is only contexts whose every lock was released: `acquire` joins nothing there and
 * `currentLock()` is undefined there anyway. A later `run` enables it again.
 */
const joinable = new Set<object>();

/** Runs `fn` in `store`, counting `handle` among the joinable ones until `scopeReleased(handle)`. */
export function runInScope<R>(handle: object, store: LockScope, fn: () => R): R {
  joinable.add(handle);
  return lockScope.run(store, fn);
}

/** `handle` joined a held lock: it keeps the storage enabled until released. */
export function scopeJoined(handle: object): void {
  joinable.add(handle);
}

/** `handle` was released: the storage is disabled when no joinable handle is left. */
export function scopeReleased(handle: object): void {
  if (joinable.delete(handle) && joinable.size === 0) lockScope.disable();
}

/** Handles keeping the storage enabled (for tests). */
export function joinableHandles(): number {
  return joinable.size;
}

/**
 * The lock of the innermost `withLock` / @WithLock around the calling code, if any. Undefined once that
 * handle was released: work spawned inside a critical section that outlives it does not hold the lock
 * unless it joined it (a nested `withLock`/`acquire` on the id while it was held).
 */
export function currentLock(): LockHandle | undefined {
  const current = lockScope.getStore()?.current;
  return current && (current as { released?: boolean }).released === true ? undefined : current;
}
