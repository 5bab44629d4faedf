/**
 * OpenTelemetry (#14), against real ZooKeeper, read through the SDK's in-memory exporters: counts of
 * acquired, conflicting, unavailable and lost locks, wait and hold histograms, the session state gauge, and
 * one span per acquire (scope, mode, queued, outcome) under the caller's active span. onLockEvent still
 * sees every event. (Without @opentelemetry/api installed: telemetry.absent.spec.ts.)
 */
import net from 'node:net';
import { Test } from '@nestjs/testing';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPoint,
  Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { INestApplication } from '@nestjs/common';
import {
  LockConflictError,
  LockEvent,
  LockHandle,
  LockService,
  LockUnavailableError,
  ZookeeperLockModule,
  ZookeeperLockModuleOptions,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { cleanup, expireSession, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';

const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
const contextManager = new AsyncLocalStorageContextManager();

// The SDK is registered before any application is created, as an application's instrumentation file does.
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
});
afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  metrics.disable();
  trace.disable();
  context.disable();
});

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await cleanup();
  spanExporter.reset();
});

async function app(options: Partial<ZookeeperLockModuleOptions> = {}) {
  const events: LockEvent[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      ZookeeperLockModule.forRoot({
        connectionString: sharedConnectString(),
        namespace: uniqueNamespace('otel'),
        sessionTimeout: 4_000,
        operationTimeout: 1_000,
        connectTimeout: 5_000,
        retryDelay: 100,
        onLockEvent: (event) => events.push(event),
        ...options,
      }),
    ],
  }).compile();
  const nest = moduleRef.createNestApplication({ logger: false });
  apps.push(nest);
  await nest.init();
  return { locks: nest.get(LockService), zk: nest.get(ZookeeperService), events, nest };
}

type Point = DataPoint<number | Histogram>;

/** The cumulative data points of one metric (all points, by attributes), collected now. */
async function collect(name: string): Promise<Point[]> {
  metricExporter.reset();
  await reader.forceFlush();
  const exported = metricExporter.getMetrics().at(-1);
  const metric = exported?.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as Point[];
}

/** The value of a counter (or the count of a histogram) for exactly these attributes (0 when none). */
async function valueOf(name: string, attributes: Record<string, unknown>): Promise<number> {
  const point = (await collect(name)).find((p) => sameAttributes(p.attributes, attributes));
  if (!point) return 0;
  return typeof point.value === 'number' ? point.value : point.value.count;
}

function sameAttributes(actual: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  const keys = Object.keys(wanted);
  return Object.keys(actual).length === keys.length && keys.every((key) => actual[key] === wanted[key]);
}

const spans = (): ReadableSpan[] => spanExporter.getFinishedSpans().filter((span) => span.name === 'zookeeper.lock.acquire');

describe('OpenTelemetry metrics and spans', () => {
  it('counts acquired and conflicting locks, records wait and hold times, one span per acquire', async () => {
    const scope = `s-${Date.now()}`; // attributes of this test only (metrics are cumulative per process)
    const { locks, events } = await app();
    const ff = { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': 'fail-fast' };
    const queued = { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': 'queued' };

    const held = await locks.acquire('acct-1', { scope });
    await expect(locks.acquire('acct-1', { scope })).rejects.toBeInstanceOf(LockConflictError);
    await expect(locks.acquire('acct-1', { scope, wait: 150 })).rejects.toBeInstanceOf(LockConflictError);
    const waiter = locks.acquire('acct-1', { scope, wait: 10_000 });
    await held.release();
    await (await waiter).release();

    expect(await valueOf('zookeeper.lock.acquired', ff)).toBe(1);
    expect(await valueOf('zookeeper.lock.acquired', queued)).toBe(1);
    expect(await valueOf('zookeeper.lock.conflicts', ff)).toBe(1);
    expect(await valueOf('zookeeper.lock.conflicts', queued)).toBe(1);
    expect(await valueOf('zookeeper.lock.unavailable', ff)).toBe(0);
    expect(await valueOf('zookeeper.lock.wait.duration', { ...ff, 'zookeeper.lock.outcome': 'acquired' })).toBe(1);
    expect(await valueOf('zookeeper.lock.wait.duration', { ...ff, 'zookeeper.lock.outcome': 'conflict' })).toBe(1);
    const queuedConflict = (await collect('zookeeper.lock.wait.duration')).find((p) =>
      sameAttributes(p.attributes, { ...queued, 'zookeeper.lock.outcome': 'conflict' }),
    );
    expect((queuedConflict?.value as Histogram).sum).toBeGreaterThanOrEqual(0.14); // seconds: it waited its 150 ms
    expect(await valueOf('zookeeper.lock.hold.duration', { 'zookeeper.lock.scope': scope, 'zookeeper.lock.end': 'released' })).toBe(2);
    const hold = (await collect('zookeeper.lock.hold.duration'))[0];
    expect(hold.value).toMatchObject({ buckets: { boundaries: expect.arrayContaining([0.001, 1, 60]) } });

    expect(spans().map((s) => s.attributes)).toEqual([
      { ...ff, 'zookeeper.lock.id_count': 1, 'zookeeper.lock.outcome': 'acquired', 'zookeeper.lock.queued': false },
      { ...ff, 'zookeeper.lock.id_count': 1, 'zookeeper.lock.outcome': 'conflict', 'zookeeper.lock.queued': false },
      { ...queued, 'zookeeper.lock.id_count': 1, 'zookeeper.lock.outcome': 'conflict', 'zookeeper.lock.queued': true },
      { ...queued, 'zookeeper.lock.id_count': 1, 'zookeeper.lock.outcome': 'acquired', 'zookeeper.lock.queued': true },
    ]);
    expect(spans().map((s) => s.status.code)).toEqual([0, 0, 0, 0]); // a conflict is an answer, not a failure
    // onLockEvent stays: the same story as events.
    expect(events.filter((e) => e.type !== 'session').map((e) => e.type)).toEqual(['acquired', 'conflict', 'conflict', 'released', 'acquired', 'released']);
  });

  it('makes the acquire span a child of the active span; an unreachable ZooKeeper is an error span and the gauge says so', async () => {
    const { locks } = await app();
    const scope = `u-${Date.now()}`;
    const tracer = trace.getTracer('test');
    const parent = await tracer.startActiveSpan('POST /accounts/:id/withdraw', async (span) => {
      await (await locks.acquire('acct-1', { scope })).release();
      span.end();
      return span;
    });
    const [child] = spans();
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    await apps.pop()!.close(); // one application (one gauge callback) at a time

    // Nothing listens on this port: no session, every acquire fails with UNAVAILABLE after operationTimeout.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const offline = await app({ connectionString: `127.0.0.1:${port}`, connectTimeout: 100, operationTimeout: 200 });
    await expect(offline.locks.acquire('acct-2', { scope })).rejects.toBeInstanceOf(LockUnavailableError);
    expect(await valueOf('zookeeper.lock.unavailable', { 'zookeeper.lock.scope': scope, 'zookeeper.lock.mode': 'fail-fast' })).toBe(1);
    const failed = spans().at(-1)!;
    expect(failed.attributes['zookeeper.lock.outcome']).toBe('unavailable');
    expect(failed.status).toMatchObject({ code: 2, message: 'LockUnavailableError' });
    expect(failed.events.map((e) => e.name)).toEqual(['exception']);
    const points = await collect('zookeeper.lock.session.state');
    expect(points.filter((p) => p.value === 1).map((p) => p.attributes['zookeeper.session.state'])).toEqual([offline.zk.state]);
    expect(offline.zk.state).not.toBe('connected');
  });

  it('counts a lost lock and its hold time; the session gauge follows the state', async () => {
    const { locks, zk } = await app();
    const scope = `l-${Date.now()}`;
    const gauge = async () => {
      const points = await collect('zookeeper.lock.session.state');
      return Object.fromEntries(points.map((p) => [p.attributes['zookeeper.session.state'], p.value]));
    };
    expect(await gauge()).toEqual({ connecting: 0, connected: 1, suspended: 0, expired: 0, lost: 0, unavailable: 0, 'auth-failed': 0, closed: 0 });

    const lock: LockHandle = await locks.acquire('acct-1', { scope });
    const expired = waitForState(zk, 'expired');
    const lost = new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
    await expireSession(sharedConnectString(), zk);
    await expired;
    await lost;
    expect(await valueOf('zookeeper.lock.lost', { 'zookeeper.lock.scope': scope })).toBe(1);
    expect(await valueOf('zookeeper.lock.hold.duration', { 'zookeeper.lock.scope': scope, 'zookeeper.lock.end': 'lost' })).toBe(1);
    await lock.release();
    expect(await valueOf('zookeeper.lock.hold.duration', { 'zookeeper.lock.scope': scope, 'zookeeper.lock.end': 'released' })).toBe(0);

    await waitForState(zk, 'connected');
    expect((await gauge()).connected).toBe(1);
    await apps.pop()!.close();
    expect(zk.state).toBe('closed');
    // Its callback was removed with the application: the SDK repeats the last reading (cumulative), the
    // closed service is not read any more.
    expect(await gauge()).toMatchObject({ connected: 1, closed: 0 });
  });
});
