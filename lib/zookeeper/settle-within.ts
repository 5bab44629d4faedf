/** The longest delay setTimeout takes as given (2^31-1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `work`, or what `onTimeout` returns (or throws) if `ms` pass first. The work is not cancelled: it
 * settles later, unobserved. For answers that must come in time even when ZooKeeper does not.
 *
 * Timers run before the socket is read, so after an event-loop pause the timer would fire although the
 * answer is already buffered. The timeout therefore takes effect only after one more turn of the loop
 * (setImmediate runs after the I/O poll), by which time a buffered answer has settled `work` and won.
 */
export function settleWithin<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  // A bound past the longest delay a Node timer can hold (2 × a huge operationTimeout, say) is no bound:
  // such a timer would fire after 1 ms instead.
  if (!(ms <= MAX_TIMER_MS)) return work;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      immediate = setImmediate(() => {
        try {
          resolve(onTimeout());
        } catch (error) {
          reject(error);
        }
      });
    }, Math.max(0, ms));
  });
  return Promise.race([work, timeout]).finally(() => {
    clearTimeout(timer);
    clearImmediate(immediate);
  });
}
