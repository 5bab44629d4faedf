/**
 * Node's setTimeout takes at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms with a
 * TimeoutOverflowWarning, which turns a long `wait` into a busy loop of requests. Longer delays are split
 * into a chain of maximal timers; Infinity (or any non-finite delay) sets no timer at all. The due time is
 * monotonic (performance.now): a wall-clock step (NTP, a resumed VM) neither stretches nor shortens it.
 */
import { MAX_TIMER_MS } from '../zookeeper/settle-within';

export { MAX_TIMER_MS };

export interface LongTimeout {
  clear(): void;
}

export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  let timer: NodeJS.Timeout | undefined;
  const due = performance.now() + Math.max(0, ms);
  const arm = (left: number) => {
    timer = setTimeout(() => {
      const rest = due - performance.now();
      if (rest > 0) arm(rest);
      else callback();
    }, Math.min(left, MAX_TIMER_MS));
  };
  if (Number.isFinite(ms)) arm(Math.max(0, ms));
  return { clear: () => clearTimeout(timer) };
}
