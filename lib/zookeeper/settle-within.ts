/**
 * `work`, or what `onTimeout` returns (or throws) if `ms` pass first. The work is not cancelled: it
 * settles later, unobserved. For answers that must come in time even when ZooKeeper does not.
 */
export function settleWithin<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, Math.max(0, ms));
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
