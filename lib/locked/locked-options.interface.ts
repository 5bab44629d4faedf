import type { LockOptions } from '../lock/lock.service';

/**
 * Which lock a @Locked method takes:
 * - a fixed id, or several: `'nightly-settlement'`, `['ledger', 'fx-rates']` (ids, not paths);
 * - or a function of the method's arguments (called with the instance as `this`).
 * It must produce a non-empty string, or an array of them (all or none).
 */
export type LockedIdSource<TArgs extends unknown[] = any[]> = // eslint-disable-line @typescript-eslint/no-explicit-any
  string | string[] | ((...args: TArgs) => string | string[]);

export interface LockedOptions extends Pick<LockOptions, 'scope' | 'wait' | 'normalizeId' | 'maxHold'> {
  /**
   * When the lock is held elsewhere (and, with `wait`, not freed in time):
   * - `'throw'` (default): the call rejects with LockConflictError, like any other failure of the method;
   * - `'skip'`: the method does not run and the call resolves to `undefined` (e.g. a cron job that
   *   another instance is running already).
   * LockUnavailableError (ZooKeeper unreachable) and InvalidLockIdError are always thrown.
   */
  onConflict?: 'throw' | 'skip';
}

export interface LockedMetadata {
  idFrom: LockedIdSource;
  options: LockedOptions;
}
