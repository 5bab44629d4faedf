/**
 * Scenario 10 (issue 13): shared locks and concurrency limits under load, holders in three separate
 * processes on the suite's ZooKeeper, and a SIGKILLed holder of each kind.
 * - Shared: readers and writers of 3 ids; no writer's section ever overlaps another section of its id,
 *   and readers did overlap each other (sharing happened). Control: the same sections unlocked make the
 *   detector fire.
 * - Limit 3: never more than 3 sections of an id at once, and 3 were reached. Control: unlocked, more.
 * - Crash: a SIGKILLed process holding an id shared (or one slot of a limit 1) frees it after about its
 *   session timeout (bound: 0.5x to 3x, as scenario 4).
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { recordFigures, emptyOutcomes } from './support/figures';
import { Fleet, leftoverNodes, startFleet } from './support/fleet';
import { closeAgents, readIntervals, startLoad } from './support/load';
import { killChildren, startHolder } from './support/processes';
import { maxConcurrency, writerOverlaps } from './support/family-checks';
import { COUNTER_APP_LIMIT } from './support/counter-app';
import { newLockService } from '../support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from '../support/zookeeper';

const HANG_BOUND_MS = 10_000;

describe('10. shared locks and limits under load (3 processes, 1 ZooKeeper)', () => {
  let fleet: Fleet;
  const namespace = uniqueNamespace('faults-family');

  beforeAll(async () => {
    fleet = await startFleet(3, { connectionString: sharedConnectString(), namespace, sessionTimeout: 10_000, operationTimeout: 3_000 }, { pauseMs: 5, queueWait: 3_000 });
  });

  afterAll(async () => {
    await killChildren();
    closeAgents();
    await cleanup();
  });

  const sections = (ids: string[]) => readIntervals(fleet.dataDir).filter((i) => ids.includes(i.id));

  it('control: without locks, the detectors see writers overlapping and more than the limit at once', async () => {
    const shared = ['control-s0', 'control-s1'];
    const limited = ['control-l0'];
    const run = startLoad({
      targets: fleet.apps.map((a) => a.url),
      ids: [...shared, ...limited],
      clients: 24,
      total: 600,
      path: (id, n) => (id.startsWith('control-l') ? `/limited/${id}/unlocked` : `/shared/${id}/unlocked/${n % 4 === 0 ? 'w' : 'r'}`),
    });
    const result = await run.done;
    const overlaps = writerOverlaps(sections(shared));
    const most = Math.max(...maxConcurrency(sections(limited)).values());
    recordFigures({ scenario: '10. control: shared/limited work, no lock', requests: result.requests, outcomes: result.outcomes, maxLatencyMs: result.maxLatencyMs, orphanedNodes: null, extra: { 'writer overlaps': overlaps.count, 'most at once (limited)': most } });
    expect(overlaps.count).toBeGreaterThan(0);
    expect(most).toBeGreaterThan(COUNTER_APP_LIMIT);
  });

  it('shared: readers overlap, a writer never overlaps anyone; only 200 or 409', async () => {
    const ids = ['doc-0', 'doc-1', 'doc-2'];
    const routes = ['read', 'read', 'read/queued', 'write', 'read', 'write/queued', 'read/queued', 'read'];
    const run = startLoad({ targets: fleet.apps.map((a) => a.url), ids, clients: 36, total: 3_000, timeoutMs: HANG_BOUND_MS, path: (id, n) => `/shared/${id}/${routes[n % routes.length]}` });
    const result = await run.done;
    const list = sections(ids);
    const overlaps = writerOverlaps(list);
    const readersAtOnce = Math.max(...maxConcurrency(list.filter((i) => i.kind === 'r')).values());
    const writers = list.filter((i) => i.kind === 'w').length;
    const zk = await newService();
    const leftovers = await leftoverNodes(zk, namespace + '/shared');
    recordFigures({ scenario: '10. shared locks under load', requests: result.requests, outcomes: result.outcomes, maxLatencyMs: result.maxLatencyMs, orphanedNodes: leftovers.length, extra: { 'writer overlaps': overlaps.count, 'readers at once (max)': readersAtOnce, 'writer sections': writers } });
    expect(result.samples).toEqual([]);
    expect(result.outcomes[200] + result.outcomes[409]).toBe(result.requests);
    expect(list).toHaveLength(result.outcomes[200]);
    expect(overlaps.examples).toEqual([]);
    expect(overlaps.count).toBe(0);
    expect(readersAtOnce).toBeGreaterThan(1); // sharing really happened
    expect(writers).toBeGreaterThan(0);
    expect(result.maxLatencyMs).toBeLessThan(HANG_BOUND_MS);
    expect(leftovers).toEqual([]);
  });

  it(`limit ${COUNTER_APP_LIMIT}: never more holders of an id at once, and that many were reached; only 200 or 409`, async () => {
    const ids = ['tenant-0', 'tenant-1'];
    const run = startLoad({ targets: fleet.apps.map((a) => a.url), ids, clients: 36, total: 3_000, timeoutMs: HANG_BOUND_MS, path: (id, n) => (n % 3 === 0 ? `/limited/${id}/queued` : `/limited/${id}`) });
    const result = await run.done;
    const list = sections(ids);
    const most = Math.max(...maxConcurrency(list).values());
    const zk = await newService();
    const leftovers = await leftoverNodes(zk, namespace + '/limited');
    recordFigures({ scenario: `10. limit ${COUNTER_APP_LIMIT} under load`, requests: result.requests, outcomes: result.outcomes, maxLatencyMs: result.maxLatencyMs, orphanedNodes: leftovers.length, extra: { 'most at once': most } });
    expect(result.samples).toEqual([]);
    expect(result.outcomes[200] + result.outcomes[409]).toBe(result.requests);
    expect(result.outcomes[409]).toBeGreaterThan(0);
    expect(list).toHaveLength(result.outcomes[200]);
    expect(most).toBeLessThanOrEqual(COUNTER_APP_LIMIT);
    expect(most).toBe(COUNTER_APP_LIMIT);
    expect(result.maxLatencyMs).toBeLessThan(HANG_BOUND_MS);
    expect(leftovers).toEqual([]);
  });

  it('a SIGKILLed shared holder and a SIGKILLed limited holder free the id after about the session timeout', async () => {
    const sessionTimeout = 4_000;
    const crashNs = uniqueNamespace('faults-family-crash');
    const zookeeper = { connectionString: sharedConnectString(), namespace: crashNs, sessionTimeout };
    const reader = await startHolder({ zookeeper, ids: ['doc'], scope: 'crash', options: { shared: true } });
    const slot = await startHolder({ zookeeper, ids: ['tenant'], scope: 'crash', options: { limit: 1 } });
    const zk = await newService({ namespace: crashNs, sessionTimeout: 10_000, operationTimeout: 5_000 });
    const locks = newLockService(zk);
    await expect(locks.acquire('doc', { scope: 'crash' })).rejects.toBeInstanceOf(LockConflictError);
    await expect(locks.acquire('tenant', { scope: 'crash', limit: 1 })).rejects.toBeInstanceOf(LockConflictError);
    const killedAt = performance.now();
    await Promise.all([reader.child.kill('SIGKILL'), slot.child.kill('SIGKILL')]);
    const freed = await Promise.all(
      [locks.acquire('doc', { scope: 'crash', wait: 60_000 }), locks.acquire('tenant', { scope: 'crash', limit: 1, wait: 60_000 })].map(async (taking) => {
        const handle = await taking;
        const after = performance.now() - killedAt;
        await handle.release();
        return after;
      }),
    );
    const leftovers = await leftoverNodes(zk, crashNs);
    recordFigures({ scenario: '10. crash (SIGKILL) of a shared / limited holder', requests: 4, outcomes: { ...emptyOutcomes(), 200: 2, 409: 2 }, maxLatencyMs: Math.max(...freed), orphanedNodes: leftovers.length, extra: { 'shared freed after (ms)': Math.round(freed[0]), 'limited freed after (ms)': Math.round(freed[1]), 'session timeout (ms)': sessionTimeout } });
    for (const after of freed) {
      expect(after).toBeGreaterThan(sessionTimeout * 0.5);
      expect(after).toBeLessThan(sessionTimeout * 3);
    }
    expect(leftovers).toEqual([]);
  });
});
