/**
 * Scenario 5: ZooKeeper down, at start and mid-run. The app (a separate process) starts without it;
 * requests get 503 within the operation timeout (plus a 1 s margin for HTTP and scheduling); once
 * ZooKeeper is back the app serves again without a restart. Mid-run the server is stopped under load,
 * kept down past the session timeout (the app gives the session up as lost), and started again.
 *
 * Bounds mid-run: a fail-fast request answers 503 within the operation timeout, also when its create
 * was in flight as ZooKeeper went (see unavailable-bound.spec.ts); a queued request within its `wait` +
 * operationTimeout (a step already waiting for the connection finishes its own operation timeout); a
 * request caught inside its critical section answers 200 once its release has given up, after at most
 * 2 x operationTimeout (the remove, then the janitor; the janitor goes on in the background).
 */
import { recordFigures, emptyOutcomes, Outcomes } from './support/figures';
import { checkRun, leftoverNodes } from './support/fleet';
import { classify, closeAgents, post, Reply, startLoad } from './support/load';
import { killChildren, startCounterApp, StartedApp } from './support/processes';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, newService, startServer, TestServer, uniqueNamespace } from '../support/zookeeper';

const SESSION_TIMEOUT = 3_000;
const OPERATION_TIMEOUT = 1_500;
const MARGIN_MS = 1_000;
const QUEUE_WAIT = 2_000;
const UNAVAILABLE_BOUND_MS = OPERATION_TIMEOUT + MARGIN_MS;
const QUEUED_UNAVAILABLE_BOUND_MS = QUEUE_WAIT + OPERATION_TIMEOUT + MARGIN_MS;
/** A request caught inside its critical section when ZooKeeper goes: its release gives up in time. */
const HANG_BOUND_MS = Math.max(2 * OPERATION_TIMEOUT + MARGIN_MS, QUEUED_UNAVAILABLE_BOUND_MS);

describe('5. ZooKeeper down at start and mid-run', () => {
  let server: TestServer;
  let app: StartedApp;
  let dataDir: string;
  const namespace = uniqueNamespace('faults-down');
  const outcomes: Outcomes = emptyOutcomes();
  let requests = 0;
  let maxLatencyMs = 0;
  let slowest503 = 0;
  let slowest503AtStart = 0;
  const figures: Record<string, number> = {};

  function count(reply: Reply): Reply {
    requests += 1;
    classify(outcomes, reply.status);
    maxLatencyMs = Math.max(maxLatencyMs, reply.latencyMs);
    if (reply.status === 503) slowest503 = Math.max(slowest503, reply.latencyMs);
    return reply;
  }

  beforeAll(async () => {
    server = await startServer();
    await server.stop();
    dataDir = mkdtempSync(join(tmpdir(), 'nzl-faults-down-'));
    const startedAt = performance.now();
    app = await startCounterApp({
      zookeeper: {
        connectionString: server.connectString,
        namespace,
        sessionTimeout: SESSION_TIMEOUT,
        operationTimeout: OPERATION_TIMEOUT,
        connectTimeout: 1_500,
        retryDelay: 200,
      },
      dataDir,
      logFile: join(dataDir, 'app.log'),
      queueWait: QUEUE_WAIT,
    });
    figures['app start with ZooKeeper down (ms)'] = Math.round(performance.now() - startedAt);
  });

  afterAll(async () => {
    await killChildren();
    closeAgents();
    await cleanup();
  });

  it('starts without ZooKeeper, answers 503 in time, and serves once ZooKeeper is back, without a restart', async () => {
    expect(app.sessionId).toBe('-'); // no session: ZooKeeper was down
    for (let i = 0; i < 10; i++) {
      const reply = count(await post(`${app.url}/counter/down-${i % 3}${i % 2 ? '/queued' : ''}`));
      expect(reply.status).toBe(503);
      expect(JSON.parse(reply.body)).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'LOCK_UNAVAILABLE',
        message: 'Locking is unavailable right now; try again later',
      });
      expect(reply.latencyMs).toBeLessThan(UNAVAILABLE_BOUND_MS);
    }

    const from = app.child.lines.length;
    const back = performance.now();
    await server.start();
    await app.child.waitForLine(/^session connected [0-9a-f]{16}$/, 30_000, from);
    slowest503AtStart = slowest503;
    figures['serving again after ZooKeeper start (ms)'] = Math.round(performance.now() - back);
    const reply = count(await post(`${app.url}/counter/down-0`));
    expect(reply.status).toBe(200);
  });

  it('mid-run: 503 within the operation timeout while down, no 500, no hang; serves again when back', async () => {
    const ids = ['mid-0', 'mid-1', 'mid-2'];
    const run = startLoad({ targets: [app.url], ids, clients: 8, total: 1_000_000, queuedEvery: 3, timeoutMs: HANG_BOUND_MS + 10_000 });
    try {
      await run.moreSuccesses(100);
      const from = app.child.lines.length;
      const stopping = performance.now();
      await server.stop();
      await app.child.waitForLine(/^session suspended /, 10_000, from);
      await app.child.waitForLine(/^session lost /, 3 * SESSION_TIMEOUT, from); // given up after a session timeout
      figures['session given up after stop (ms)'] = Math.round(performance.now() - stopping);
      const restarting = performance.now();
      await server.start();
      await app.child.waitForLine(/^session connected [0-9a-f]{16}$/, 30_000, from);
      figures['serving again after restart (ms)'] = Math.round(performance.now() - restarting);
      await run.moreSuccesses(100, 30_000);
    } finally {
      run.stop();
    }
    const result = await run.done;
    requests += result.requests;
    for (const key of Object.keys(outcomes) as Array<keyof Outcomes>) outcomes[key] += result.outcomes[key];
    maxLatencyMs = Math.max(maxLatencyMs, result.maxLatencyMs);

    const check = checkRun({ apps: [app], dataDir, namespace }, ids, result);
    const zk = await newService({ connectionString: server.connectString });
    const leftovers = await leftoverNodes(zk, namespace);
    recordFigures({
      scenario: '5. ZooKeeper down at start and mid-run',
      requests,
      outcomes,
      lostUpdates: check.lostUpdates,
      overlaps: check.overlaps,
      maxLatencyMs,
      orphanedNodes: leftovers.length,
      extra: {
        ...figures,
        'slowest 503 at start (ms)': Math.round(slowest503AtStart),
        'slowest 503 mid-run, fail-fast (ms)': result.maxLatencyByKind['503 fail-fast'] ?? 0,
        'slowest 503 mid-run, queued wait 2 s (ms)': result.maxLatencyByKind['503 queued'] ?? 0,
        'hang bound (ms)': HANG_BOUND_MS,
      },
    });
    expect(result.samples).toEqual([]);
    expect(result.outcomes.other).toBe(0);
    expect(result.outcomes[503]).toBeGreaterThan(0);
    expect(result.maxLatencyByKind['503 fail-fast'] ?? 0).toBeLessThan(UNAVAILABLE_BOUND_MS);
    expect(result.maxLatencyByKind['503 queued'] ?? 0).toBeLessThan(QUEUED_UNAVAILABLE_BOUND_MS);
    expect(result.maxLatencyMs).toBeLessThan(HANG_BOUND_MS);
    expect(check.lostUpdates).toBe(0);
    expect(check.overlaps).toBe(0);
    expect(leftovers).toEqual([]);
  });
});
