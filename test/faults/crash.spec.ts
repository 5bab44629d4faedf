/**
 * Scenario 4: a process holding locks is killed (SIGKILL: no goodbye to ZooKeeper). Its locks free when
 * ZooKeeper expires its session, about one session timeout later; measured for three session timeouts
 * (tickTime 500 ms: the server checks expiry every tick, so up to ~0.5 s more is expected).
 * Bound asserted: between 0.5x and 3x the session timeout.
 */
import { LockConflictError, LockHandle } from 'nestjs-zookeeper-lock';
import { emptyOutcomes, recordFigures } from './support/figures';
import { leftoverNodes } from './support/fleet';
import { killChildren, startHolder } from './support/processes';
import { newLockService } from '../support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from '../support/zookeeper';

const SESSION_TIMEOUTS = [2_000, 4_000, 8_000];
const LOCKS_PER_PROCESS = 5;

describe('4. crash of a process holding locks (SIGKILL)', () => {
  afterAll(async () => {
    await killChildren();
    await cleanup();
  });

  it('frees every lock of the killed process after about its session timeout', async () => {
    const namespace = uniqueNamespace('faults-crash');
    const holders = await Promise.all(
      SESSION_TIMEOUTS.map(async (sessionTimeout) => {
        const ids = Array.from({ length: LOCKS_PER_PROCESS }, (_, i) => `s${sessionTimeout}-lock-${i}`);
        const holder = await startHolder({ zookeeper: { connectionString: sharedConnectString(), namespace, sessionTimeout }, ids, scope: 'crash' });
        return { ...holder, sessionTimeout, ids };
      }),
    );
    const zk = await newService({ namespace, sessionTimeout: 10_000, operationTimeout: 5_000 });
    const locks = newLockService(zk);
    const outcomes = emptyOutcomes();
    let requests = 0;
    const count = (status: 200 | 409 | 'other') => {
      requests += 1;
      outcomes[status] += 1;
    };

    // Held: nobody else can take them.
    for (const { ids } of holders) {
      for (const id of ids) {
        const attempt = await locks.acquire(id, { scope: 'crash' }).then((h) => h, (e: unknown) => e);
        count(attempt instanceof LockConflictError ? 409 : 'other');
        expect(attempt).toBeInstanceOf(LockConflictError);
      }
    }

    // Kill all three at once; one waiter per lock measures when it frees.
    const killedAt = performance.now();
    await Promise.all(holders.map((h) => h.child.kill('SIGKILL')));
    const freedAfter = await Promise.all(
      holders.map(async ({ ids }) => {
        const times = await Promise.all(
          ids.map(async (id) => {
            let handle: LockHandle;
            try {
              handle = await locks.acquire(id, { scope: 'crash', wait: 60_000 });
            } catch (error) {
              count('other');
              throw error;
            }
            count(200);
            const after = performance.now() - killedAt;
            await handle.release();
            return after;
          }),
        );
        return Math.max(...times);
      }),
    );

    const leftovers = await leftoverNodes(zk, namespace);
    recordFigures({
      scenario: '4. crash (SIGKILL) while holding',
      requests,
      outcomes,
      maxLatencyMs: Math.max(...freedAfter),
      orphanedNodes: leftovers.length,
      extra: Object.fromEntries(
        SESSION_TIMEOUTS.map((timeout, i) => [`freed after crash, session ${timeout / 1000} s (ms)`, Math.round(freedAfter[i])]),
      ),
    });
    SESSION_TIMEOUTS.forEach((timeout, i) => {
      expect(freedAfter[i]).toBeGreaterThan(timeout * 0.5);
      expect(freedAfter[i]).toBeLessThan(timeout * 3);
    });
    expect(outcomes.other).toBe(0);
    expect(leftovers).toEqual([]);
  });
});
