import { MAX_LOCK_LIMIT } from './lock-limit';

/**
 * Why `shared` and `limit` cannot be used as given (undefined when they can): checked by LockService at
 * each call, and by @WithLock and @Locked when the decorated class is defined.
 */
export function lockModeProblem(shared: unknown, limit: unknown): string | undefined {
  if (shared !== undefined && typeof shared !== 'boolean') return `option shared must be a boolean, got ${JSON.stringify(shared)}`;
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LOCK_LIMIT) {
    return `option limit must be an integer from 1 to ${MAX_LOCK_LIMIT}, got ${String(limit)}`;
  }
  if (shared) return 'options shared and limit cannot be used together';
  return undefined;
}
