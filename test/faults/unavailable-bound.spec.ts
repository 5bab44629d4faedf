/**
 * Known defect (found by scenario 5): a fail-fast acquire whose create is in flight when ZooKeeper goes
 * away answers LockUnavailableError (HTTP 503) only after about 2 x operationTimeout, not within the
 * operation timeout that issue #6 asks for. The create fails with CONNECTION_LOSS (outcome unknown), so
 * LockContext.resolveCreate (lib/recipes/lock-context.ts) waits up to operationTimeout for the connection
 * and then, still disconnected, reads the node back with getData, which waits a second operationTimeout
 * in ZookeeperService.execute before failing as UNAVAILABLE.
 *
 * The first test pins down the measurement (the in-flight path is really taken, and is bounded by 2x);
 * the second states the requirement and is marked `failing` until lib is fixed: then it reports itself
 * as passing unexpectedly, and `it.failing` must become `it`.
 */
import { LockUnavailableError } from 'nestjs-zookeeper-lock';
import { newLockService } from '../support/locks';
import { cleanup, newService, startServer, uniqueNamespace } from '../support/zookeeper';

const OPERATION_TIMEOUT = 1_500;
const MARGIN_MS = 500;

describe('fail-fast acquire in flight when ZooKeeper goes away', () => {
  const outcomes: Array<{ error?: unknown; ms: number }> = [];

  beforeAll(async () => {
    const server = await startServer();
    const zk = await newService({
      connectionString: server.connectString,
      namespace: uniqueNamespace('faults-bound'),
      sessionTimeout: 6_000, // the session outlives the test: only the operation timeout is in play
      operationTimeout: OPERATION_TIMEOUT,
      retryDelay: 200,
    });
    const locks = newLockService(zk);
    await locks.withLock('warm-up', () => undefined); // scope directory made: one create per acquire
    let stopping: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i / 4)); // a stream of acquires; the server stops early in it
        if (i === 10) stopping = server.stop();
        const started = performance.now();
        try {
          const handle = await locks.acquire(`in-flight-${i}`);
          outcomes.push({ ms: performance.now() - started });
          void handle.release();
        } catch (error) {
          outcomes.push({ error, ms: performance.now() - started });
        }
      }),
    );
    await stopping;
  });

  afterAll(cleanup);

  it('takes the in-flight path (create lost, read-back) and answers within 2 x operationTimeout', () => {
    const failed = outcomes.filter((o) => o.error);
    expect(failed.length).toBeGreaterThan(0);
    for (const { error } of failed) expect(error).toBeInstanceOf(LockUnavailableError);
    expect(failed.some((o) => /getData/.test((o.error as Error).message))).toBe(true); // the read-back ran
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(2 * OPERATION_TIMEOUT + MARGIN_MS);
  });

  it.failing('answers within operationTimeout (issue #6), which it does not yet', () => {
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(OPERATION_TIMEOUT + MARGIN_MS);
  });
});
