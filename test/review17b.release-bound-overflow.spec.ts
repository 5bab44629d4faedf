/**
 * Review 17b: the "ms options capped at 2^31-1" fix (lib/module/zookeeper-lock-options.ts positiveInteger)
 * accepts every operationTimeout up to 2147483647 ms because "a longer one would fire after 1 ms" (README
 * Install and configure). But the backend bounds a release by TWO operation timeouts in a Node timer
 * (lib/recipes/zookeeper-lock.backend.ts:517 releaseNow and :499 releaseNodes:
 * `settleWithin(..., 2 * this.zk.options.operationTimeout, ...)`). For any accepted operationTimeout
 * above 2^30 ms that timer overflows and fires after 1 ms (TimeoutOverflowWarning): release() resolves
 * before its requests were even answered, while the lock is still held in ZooKeeper.
 * README (LockService / @WithLock): "The response is sent after the release, so the client's next
 * request finds the lock free". Here the next acquire, right after release() resolved, is refused.
 */
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { newLockService } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

/** Every request of `zk` from now on is handed to the client 300 ms late (a slow network, nothing more). */
function slowDown(zk: ZookeeperService): void {
  for (const op of ['create', 'remove', 'exists', 'getData', 'getChildren', 'multi'] as const) {
    const original = (zk as never as Record<string, (...a: unknown[]) => Promise<unknown>>)[op].bind(zk);
    jest.spyOn(zk, op).mockImplementation(((...args: unknown[]) =>
      new Promise((resolve) => setTimeout(resolve, 300)).then(() => original(...args))) as never);
  }
}

async function releaseThenRetake(operationTimeout: number): Promise<string> {
  const namespace = uniqueNamespace('r17b-overflow');
  const zk = await newService({ namespace, operationTimeout });
  const lock = newLockService(zk);
  const other: LockService = newLockService(await newService({ namespace }));
  const handle = await lock.acquire('report', { shared: true }); // released by reading first (releaseRead)
  slowDown(zk);
  await handle.release();
  // release() has resolved: the lock must be free for the next caller.
  return other.acquire('report').then(
    (next) => next.release().then(() => 'free'),
    (error) => `still held (${(error as { code?: string }).code})`,
  );
}

describe('review17b: operationTimeout accepted up to 2^31-1, but a release is bounded by twice it', () => {
  it('operationTimeout 2147483647 (accepted): the lock is free once release() resolves', async () => {
    // (Node prints "TimeoutOverflowWarning: 4294967294 does not fit into a 32-bit signed integer" here.
    // With operationTimeout 2^30-1 the same spec passes: release() waits for its slow requests.)
    const result = await releaseThenRetake(2 ** 31 - 1);
    console.log(`operationTimeout 2^31-1: right after release() resolved, the lock is ${result}`);
    expect(result).toBe('free');
  });
});
