/**
 * Scenario 1: mutual exclusion under load. Three separate processes run the counter app (@WithLock,
 * fail-fast and queued routes) on the suite's ZooKeeper; 48 concurrent clients send 4000 requests over
 * 5 ids. Every answer is 200 or 409, the shared counters equal the number of 200s, and no two critical
 * sections of one id overlap in time. A control run on the same app without the lock shows that these
 * checks do see lost updates and overlaps when there is no lock.
 */
import { recordFigures } from './support/figures';
import { checkRun, Fleet, leftoverNodes, startFleet, loadFigures } from './support/fleet';
import { closeAgents, startLoad } from './support/load';
import { killChildren } from './support/processes';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from '../support/zookeeper';

const IDS = ['acct-0', 'acct-1', 'acct-2', 'acct-3', 'acct-4'];
const REQUESTS = 4_000;
const CLIENTS = 48;
const HANG_BOUND_MS = 10_000; // no ZooKeeper fault here: any answer slower than this is a hang

describe('1. mutual exclusion under load (3 processes, 1 ZooKeeper)', () => {
  let fleet: Fleet;
  const namespace = uniqueNamespace('faults-mutex');

  beforeAll(async () => {
    fleet = await startFleet(3, {
      connectionString: sharedConnectString(),
      namespace,
      sessionTimeout: 10_000,
      operationTimeout: 3_000,
    }, { pauseMs: 3, queueWait: 2_000 });
  });

  afterAll(async () => {
    await killChildren();
    closeAgents();
    await cleanup();
  });

  it('the checks see lost updates and overlaps on the same work without the lock (control)', async () => {
    const ids = ['control-0', 'control-1'];
    const run = startLoad({ targets: fleet.apps.map((a) => a.url), ids, clients: 16, total: 400, path: (id) => `/unlocked/${id}` });
    const result = await run.done;
    const check = checkRun(fleet, ids, result);
    recordFigures({
      scenario: '0. control: same work, no lock',
      ...loadFigures(result, check, null),
      extra: { processes: 3, clients: 16, ids: ids.length },
    });
    expect(result.outcomes[200]).toBe(400);
    expect(check.lostUpdates).toBeGreaterThan(0);
    expect(check.overlaps).toBeGreaterThan(0);
  });

  it('answers only 200 or 409, loses no update, and never lets two holders of an id overlap', async () => {
    const started = performance.now();
    const run = startLoad({ targets: fleet.apps.map((a) => a.url), ids: IDS, clients: CLIENTS, total: REQUESTS, queuedEvery: 4, timeoutMs: HANG_BOUND_MS });
    const result = await run.done;
    const durationMs = performance.now() - started;
    const check = checkRun(fleet, IDS, result);
    const zk = await newService();
    const leftovers = await leftoverNodes(zk, namespace);
    recordFigures({
      scenario: '1. mutual exclusion under load',
      ...loadFigures(result, check, leftovers.length),
      extra: {
        processes: 3,
        clients: CLIENTS,
        ids: IDS.length,
        'requests/s': Math.round(result.requests / (durationMs / 1000)),
        'queued share': '1/4',
      },
    });

    expect(result.samples).toEqual([]);
    expect(result.requests).toBe(REQUESTS);
    expect(result.outcomes[200] + result.outcomes[409]).toBe(REQUESTS);
    expect(result.outcomes[200]).toBeGreaterThan(REQUESTS / 10); // real work happened, not only conflicts
    expect(result.outcomes[409]).toBeGreaterThan(0); // and the ids were really contended
    expect(check.sections).toBe(result.outcomes[200]);
    expect(check.counters).toEqual(result.okById);
    expect(check.lostUpdates).toBe(0);
    expect(check.overlapExamples).toEqual([]);
    expect(check.overlaps).toBe(0);
    expect(result.maxLatencyMs).toBeLessThan(HANG_BOUND_MS);
    expect(leftovers).toEqual([]);
  });
});
