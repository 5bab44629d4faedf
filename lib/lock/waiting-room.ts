import { LockQueueFullError } from './lock.errors';
import { lockKey } from './lock-id';

/** Bounds on callers waiting for locks (see the `maxWaiters` module option). */
export interface WaiterLimits {
  /** Most callers that may wait for one id, in this process and in the id's queue in ZooKeeper. */
  perId: number;
  /** Most callers that may wait for any lock in this process at once. */
  perProcess: number;
}

export const DEFAULT_WAITER_LIMITS: WaiterLimits = { perId: 100, perProcess: 5_000 };

/**
 * Counts this process's waiting acquires, per id and in total, and refuses one more beyond the limits
 * at once, before anything is sent to ZooKeeper. Pure bookkeeping (no I/O, no timers).
 */
export class WaitingRoom {
  private readonly perKey = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: WaiterLimits) {}

  /** Admits a waiting acquire of `ids`, or throws LockQueueFullError. Call the returned function once it settled. */
  enter(ids: string[], scope: string): () => void {
    if (this.total >= this.limits.perProcess) throw new LockQueueFullError(ids, scope, { perProcess: this.limits.perProcess });
    const keys = ids.map((id) => lockKey(scope, id));
    const full = ids.filter((_, i) => (this.perKey.get(keys[i]) ?? 0) >= this.limits.perId);
    if (full.length > 0) throw new LockQueueFullError(full, scope, { perId: this.limits.perId });
    this.total += 1;
    for (const key of keys) this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.total -= 1;
      for (const key of keys) {
        const count = this.perKey.get(key)! - 1;
        if (count === 0) this.perKey.delete(key);
        else this.perKey.set(key, count);
      }
    };
  }

  /** Waiting acquires in this process (for tests and metrics). */
  get size(): number {
    return this.total;
  }
}

/**
 * What is wrong with a `maxWaiters` value, or undefined when it is fine: an object whose `perId` and
 * `perProcess`, when given, are whole numbers >= 1 or Infinity.
 */
export function maxWaitersProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `must be an object { perId?, perProcess? }, got ${String(value)}`;
  for (const [key, limit] of Object.entries(value)) {
    if (key !== 'perId' && key !== 'perProcess') return `has an unknown key ${JSON.stringify(key)} (perId and perProcess are known)`;
    if (limit === undefined || limit === Infinity) continue;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      return `${key} must be a whole number >= 1 or Infinity, got ${String(limit)}`;
    }
  }
  return undefined;
}

/** The limits of a valid `maxWaiters` value, defaults filled in. */
export function waiterLimits(value: Partial<WaiterLimits> | undefined): WaiterLimits {
  return {
    perId: value?.perId ?? DEFAULT_WAITER_LIMITS.perId,
    perProcess: value?.perProcess ?? DEFAULT_WAITER_LIMITS.perProcess,
  };
}
