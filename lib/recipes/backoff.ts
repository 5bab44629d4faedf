/**
 * Pauses between retries of background clean-up: exponential with "equal jitter" (half fixed, half
 * random), so that a throttled server (THROTTLED_OP) is not hammered and many janitors of a fleet do not
 * retry in step. Pure: the random source is a parameter.
 */
export const BACKOFF_BASE_MS = 50;
export const BACKOFF_MAX_MS = 5_000;

/** The pause before retry number `attempt` (0 for the first): within [ceiling / 2, ceiling]. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The shortest pause `backoffDelay(attempt)` can return. */
export function backoffFloor(attempt: number): number {
  return Math.round(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30)) / 2);
}
