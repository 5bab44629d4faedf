/**
 * Real ZooKeeper servers for tests: the suite's shared standalone server, private servers and ensembles
 * (for fault tests that stop, pause or kill them), and ZookeeperService instances that are closed after
 * each test file.
 */
import { randomBytes } from 'node:crypto';
import { firstValueFrom, filter, of, timeout } from 'rxjs';
import { ZookeeperService, ZookeeperState } from '../../lib/zookeeper/zookeeper.service';
import { ZookeeperError } from '../../lib/zookeeper/zookeeper.error';
import type { ZookeeperLockModuleOptions } from '../../lib/module/zookeeper-lock-options.interface';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../scripts/zk.js');

export interface TestServer {
  readonly connectString: string;
  readonly running: boolean;
  readonly pid?: number;
  readonly clientPort: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  restart(): Promise<void>;
}

export interface TestEnsemble {
  readonly members: TestServer[];
  readonly connectString: string;
  leader(): Promise<TestServer | undefined>;
  waitQuorum(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The suite's shared standalone server, started by global setup. */
export function sharedConnectString(): string {
  const connect = process.env.NZL_TEST_ZK;
  if (!connect) throw new Error('NZL_TEST_ZK is not set: run the tests through jest (global setup starts ZooKeeper)');
  return connect;
}

const servers: Array<{ stop(): Promise<void> }> = [];

/**
 * A private standalone server (tickTime 500 ms: session timeouts from 1 s). Stopped by `cleanup()`.
 * `config` adds zoo.cfg lines (e.g. `['minSessionTimeout=6000', 'maxSessionTimeout=6000']` to clamp).
 */
export async function startServer(options: { config?: string[]; tickTime?: number } = {}): Promise<TestServer> {
  const server: TestServer = await harness.startStandalone(options);
  servers.push(server);
  return server;
}

/** A private 3-node ensemble on loopback with forceSync=no. Stopped by `cleanup()`. */
export async function startEnsemble(): Promise<TestEnsemble> {
  const ensemble: TestEnsemble = await harness.startEnsemble({ size: 3 });
  servers.push(ensemble);
  return ensemble;
}

const services: ZookeeperService[] = [];

/** A connected ZookeeperService (closed by `cleanup()`); `connect: false` leaves connecting to the caller. */
export async function newService(
  options: Partial<ZookeeperLockModuleOptions> = {},
  { connect = true } = {},
): Promise<ZookeeperService> {
  const service = new ZookeeperService({
    connectionString: sharedConnectString(),
    sessionTimeout: 4_000,
    operationTimeout: 2_000,
    connectTimeout: 5_000,
    retryDelay: 100,
    ...options,
  });
  services.push(service);
  if (connect && !(await service.connect())) throw new Error(`could not connect to ${service.options.connectionString}`);
  return service;
}

/** Closes every service and stops every private server made by this test file. */
export async function cleanup(): Promise<void> {
  await Promise.all(services.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
}

/** A namespace of its own for one test, so tests never see each other's nodes. */
export function uniqueNamespace(label = 't'): string {
  return `/test-${label}-${randomBytes(4).toString('hex')}`;
}

/** Resolves with the first state event matching `state` (or one of them), from now or the current one. */
export function waitForState(service: ZookeeperService, state: ZookeeperState | ZookeeperState[], timeoutMs = 30_000) {
  const wanted = Array.isArray(state) ? state : [state];
  return firstValueFrom(
    service.state$.pipe(
      filter((e) => wanted.includes(e.state)),
      timeout({ first: timeoutMs, with: () => { throw new Error(`state ${state} not reached within ${timeoutMs} ms (now ${service.state})`); } }),
    ),
  );
}

/**
 * Ends a session from outside, the way ZooKeeper's own tests do: a second client attaches to the same
 * session id and password and closes it. The server deletes the session's ephemeral nodes; the owner
 * learns "expired" when it reconnects. If the owner wins the session back before the close arrives (the
 * close then fails as SESSION_MOVED and the session lives on), it tries again.
 */
export async function expireSession(connectString: string, service: ZookeeperService): Promise<void> {
  const sessionId = service.sessionId;
  for (let attempt = 0; attempt < 10; attempt++) {
    const ended = firstValueFrom(
      service.state$.pipe(
        filter((e) => (e.state === 'expired' || e.state === 'lost') && e.sessionId === sessionId),
        timeout({ first: 1_500, with: () => of(undefined) }),
      ),
    );
    await attachAndClose(connectString, service);
    if (await ended) return;
  }
  throw new Error(`could not expire session ${sessionId}`);
}

async function attachAndClose(connectString: string, service: ZookeeperService): Promise<void> {
  const session = (service as unknown as { session: { client: { getSessionId(): Buffer; getSessionPassword(): Buffer } } }).session;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const zookeeper = require('node-zookeeper-client');
  const intruder = zookeeper.createClient(connectString, {
    sessionTimeout: service.sessionTimeout,
    sessionId: session.client.getSessionId(),
    sessionPassword: session.client.getSessionPassword(),
    retries: 0,
  });
  const attached = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('intruder could not attach to the session')), 10_000);
    intruder.once('connected', () => {
      clearTimeout(timer);
      resolve(true);
    });
    intruder.once('expired', () => {
      clearTimeout(timer);
      resolve(false); // already gone
    });
    intruder.connect();
  });
  if (!attached) return;
  const socket = intruder.connectionManager.socket;
  const closed = new Promise((resolve) => socket.once('close', resolve));
  intruder.close();
  await closed;
}

export { harness };

/** Resolves once `path` has at least `count` children (event-driven: a child watch per change). */
export async function waitForChildren(service: ZookeeperService, path: string, count: number, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    let children: string[] = [];
    try {
      children = await service.getChildren(path, () => changed());
    } catch (error) {
      if ((error as { code?: string }).code !== 'NO_NODE') throw error;
      // Wait for the node itself; if it appeared meanwhile, the watch set is a data watch: look again now.
      if (await service.exists(path, () => changed())) continue;
    }
    if (children.length >= count) return children;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${path} has ${children.length} children, wanted ${count}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

/**
 * Resolves once `path` has no children (a child watch per change; the test timeout catches a hang).
 * `withinMs`: reject once that has passed instead, for a test whose point is that it happens sooner.
 */
export async function waitForNoChildren(zk: ZookeeperService, path: string, withinMs = Infinity): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    let children: string[];
    try {
      children = await zk.getChildren(path, () => changed());
    } catch (error) {
      if ((error as { code?: string }).code === 'NO_NODE') return;
      throw error;
    }
    if (children.length === 0) return;
    if (withinMs === Infinity) {
      await change;
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${path} still has ${children.length} children after ${withinMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

interface RawWatchers {
  dataWatchers: Record<string, { listenerCount(event: string): number }>;
  existenceWatchers: Record<string, { listenerCount(event: string): number }>;
  childWatchers: Record<string, { listenerCount(event: string): number }>;
}

/**
 * The watches the service's client still holds (`kind path x listeners`), for leak checks, leaving out
 * the one data watch a lock backend keeps on each scope dir it knows has no shared locks (the scope's
 * mark: lib/recipes/shared-scopes.ts) when it has exactly one listener: those stand by design, one per
 * scope dir, for the session's life. Anything else left (on a lock, a queue, a waiter) is a leak.
 */
export function watchesLeft(service: ZookeeperService): string[] {
  const manager = (service as unknown as { session: { client: { connectionManager: { watcherManager: RawWatchers } } } }).session.client
    .connectionManager.watcherManager;
  const namespace = service.options.namespace;
  const isScopeDir = (path: string) => path.slice(0, path.lastIndexOf('/')) === namespace;
  const left: string[] = [];
  for (const [kind, map] of [['data', manager.dataWatchers], ['exists', manager.existenceWatchers], ['child', manager.childWatchers]] as const) {
    for (const [path, emitter] of Object.entries(map)) {
      const count = emitter.listenerCount('notification');
      if (kind === 'data' && isScopeDir(path) && count === 1) continue;
      left.push(`${kind} ${path} x${count}`);
    }
  }
  return left;
}

/** Every node below `path` (depth first), for leak checks. */
export async function listTree(service: ZookeeperService, path: string): Promise<string[]> {
  const out: string[] = [];
  let children: string[];
  try {
    children = await service.getChildren(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'NO_NODE') return out;
    throw error;
  }
  for (const child of children) {
    out.push(`${path}/${child}`);
    out.push(...(await listTree(service, `${path}/${child}`)));
  }
  return out;
}

/** Resolves once `path` exists (event-driven: an exists watch per change). */
export async function waitForNode(service: ZookeeperService, path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    const watch = () => changed();
    if (await service.exists(path, watch)) {
      service.unwatch(path, watch);
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${path} does not exist after ${timeoutMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

/** Resolves once `path` does not exist (event-driven: an exists watch per change). */
export async function waitForGone(service: ZookeeperService, path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    let there: unknown;
    try {
      there = await service.exists(path, () => changed());
    } catch (error) {
      // The connection dropped (a test that paused the server): wait for it, then look again.
      if (!(error instanceof ZookeeperError && error.isConnectivity) || Date.now() >= deadline) throw error;
      await service.waitForConnection(deadline - Date.now());
      continue;
    }
    if (!there) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${path} still exists after ${timeoutMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

/** The stream internals a socket writes through: one `_write` per chunk, or one `_writev` per corked batch. */
interface SocketInternals {
  _write(this: SocketInternals, chunk: unknown, encoding: unknown, callback: unknown): void;
  _writev(this: SocketInternals, chunks: unknown[], callback: unknown): void;
}

/**
 * Counts the writes that reach the service's current socket: `writes` gets the number of requests
 * (chunks) each write carried. `restore()` puts the socket back as it was.
 */
export function countSocketWrites(service: ZookeeperService): { writes: number[]; restore(): void } {
  const socket = (service as unknown as { session: { client: { connectionManager: { socket: SocketInternals } } } }).session.client.connectionManager.socket;
  const writes: number[] = [];
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (...args) {
    writes.push(1);
    return write.apply(this, args);
  };
  socket._writev = function (chunks, callback) {
    writes.push(chunks.length);
    return writev.call(this, chunks, callback);
  };
  return {
    writes,
    restore: () => {
      socket._write = write;
      socket._writev = writev;
    },
  };
}
