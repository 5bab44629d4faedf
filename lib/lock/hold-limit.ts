import { MAX_TIMER_MS as MAX_TIMER_DELAY } from '../zookeeper/settle-within';

/**
 * What is wrong with a `maxHold` value, or undefined when it is fine: a whole number of ms from 1 to
 * 2^31-1, or Infinity (no limit). Shared by the module option, LockOptions and the decorators, which
 * each throw their own error type with it.
 */
export function maxHoldProblem(value: unknown): string | undefined {
  if (value === Infinity) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_DELAY) {
    return `must be a whole number of ms from 1 to ${MAX_TIMER_DELAY}, or Infinity (no limit), got ${String(value)}`;
  }
  return undefined;
}

/**
 * What is wrong with a `holdAtLeast` value, or undefined when it is fine: a whole number of ms from 0 (the
 * default: released as soon as its holders are done) to 2^31-1, and no longer than `maxHold` (a lock cannot
 * be kept at least 10 s and at most 5 s).
 */
export function holdAtLeastProblem(value: unknown, maxHold = Infinity): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_DELAY) {
    return `must be a whole number of ms from 0 to ${MAX_TIMER_DELAY}, got ${String(value)}`;
  }
  if (value > maxHold) return `(${value} ms) must not be longer than maxHold (${maxHold} ms)`;
  return undefined;
}
