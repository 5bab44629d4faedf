/*
 * npm run bench:http: what @WithLock costs over HTTP, measured with a real load generator (autocannon).
 *
 * One Nest app (bench/http-app.ts, forked so that it has its own event loop) serves routes around the
 * same handler: no lock, @WithLock, LockService.withLock, a hand-written ZookeeperService.create + remove,
 * and the same plus the ownership read the library does before deleting, and no lock again while
 * another lock is held in the app (the lock context's cost to other routes). autocannon
 * drives each in turn at the same concurrency, every request on a new id (so every request takes a lock
 * and none conflicts); each round measures them back to back, in an order that rotates per round.
 * The table reports median requests/s and latency over the rounds, and the median of the per-round ratios
 * @WithLock / hand-written, and the app's CPU time per request (which other load on a shared machine
 * disturbs less than the rates). No pass/fail; exits non-zero only when a request failed or nodes were left.
 *
 * Uses ZOOKEEPER_CONNECT when set; otherwise a private standalone ZooKeeper (fsync on) with its data on
 * tmpfs (/dev/shm) when there is one, so that disk-flush jitter does not drown the client-side costs being
 * compared; BENCH_DATA_DIR=<dir> puts it on a disk instead. BENCH_SECONDS (default 5) per measurement,
 * BENCH_ROUNDS (default 5), BENCH_CONNECTIONS (default 32) concurrent HTTP connections.
 * BENCH_PROFILE=<dir>: writes a CPU profile of the app per route (<dir>/<route>.cpuprofile, first round).
 */
import autocannon from 'autocannon';
import { fork, ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../scripts/zk.js');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PROFILE_DIR = process.env.BENCH_PROFILE;

const ROUTES = [
  { name: 'no lock', path: 'plain' },
  { name: '@WithLock', path: 'locked' },
  { name: 'LockService.withLock in the handler', path: 'service' },
  { name: 'hand-written create+remove', path: 'manual' },
  { name: 'hand-written create+read+remove', path: 'checked' },
  { name: 'a pass-through interceptor, no lock', path: 'passthrough' },
  { name: 'hand-written interceptor, create+remove', path: 'intercepted' },
  // The lock context's cost to the rest of the app: /plain again, while one lock is held in the background.
  { name: 'no lock, while another lock is held in the app', path: 'plain', holding: true },
] as const;
type RouteName = (typeof ROUTES)[number]['name'];

interface Sample {
  rps: number;
  /** CPU time of the app process per request (µs): less sensitive than rates to other load on the machine. */
  cpu: number;
  p50: number;
  p99: number;
  failed: number;
}

let nextId = 0;

/** Drives one route for `seconds` at CONNECTIONS; every request names a new id. */
async function drive(base: string, path: string, seconds: number): Promise<Sample> {
  const cpuBefore = await appCpu(base);
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/${path}/r${nextId++}` }) }],
  });
  const cpuUsed = (await appCpu(base)) - cpuBefore;
  return {
    rps: result['2xx'] / (result.duration || seconds),
    cpu: cpuUsed / Math.max(1, result.requests.total),
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function appCpu(base: string): Promise<number> {
  return ((await (await fetch(`${base}/cpu`)).json()) as { micros: number }).micros;
}

function startApp(connectionString: string): Promise<{ child: ChildProcess; base: string }> {
  const child = fork(join(__dirname, 'http-app.ts'), [], {
    execArgv: ['-r', join(__dirname, 'register.js')],
    env: { ...process.env, ZOOKEEPER_CONNECT: connectionString },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, base: `http://127.0.0.1:${m.port}` }));
    child.once('exit', (code) => reject(new Error(`bench/http-app.ts exited (${code}) before listening`)));
  });
}

/** Sends `message` to the app and resolves with its first answer that has `key`. */
function ask(child: ChildProcess, message: object, key: string): Promise<unknown> {
  return new Promise((resolve) => {
    const onMessage = (answer: Record<string, unknown>) => {
      if (!(key in answer)) return;
      child.off('message', onMessage);
      resolve(answer[key]);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/** The app's lock nodes, once requests that autocannon gave up on at the end of a run have finished. */
async function nodesLeft(base: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { locked, manual } = (await (await fetch(`${base}/nodes`)).json()) as { locked: number; manual: number };
    if (locked + manual === 0 || Date.now() > deadline) return locked + manual;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return exited.finally(() => clearTimeout(force));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(2)).join(', ');

async function main(): Promise<void> {
  const loadBefore = load();
  const dataRoot = process.env.BENCH_DATA_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : undefined);
  const dir = process.env.ZOOKEEPER_CONNECT || !dataRoot ? undefined : mkdtempSync(join(dataRoot, 'nzl-bench-http-'));
  let server: { connectString: string; external?: boolean; stop(): Promise<void> } | undefined;
  let app: { child: ChildProcess; base: string } | undefined;
  try {
    server = await harness.startStandalone({ tickTime: 2000, dir, jvmFlags: harness.BENCH_JVM_FLAGS });
    app = await startApp(server!.connectString);
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    const samples = new Map<RouteName, Sample[]>(ROUTES.map((r) => [r.name, []]));
    for (const route of ROUTES) if (!('holding' in route)) await drive(app.base, route.path, Math.min(1, SECONDS)); // warm-up: JIT, caches
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < ROUTES.length; k++) {
        const route = ROUTES[(round + k) % ROUTES.length];
        const profile = PROFILE_DIR && round === 0 ? join(PROFILE_DIR, `${route.path}${'holding' in route ? '-held' : ''}.cpuprofile`) : undefined;
        const holding = 'holding' in route;
        if (holding) {
          const { joinable } = (await (await fetch(`${app.base}/hold/start`)).json()) as { joinable: number };
          if (!(joinable > 0)) throw new Error('/hold/start: the lock context is not enabled while the background lock is held');
        }
        if (profile) await ask(app.child, { profileStart: true }, 'profiling');
        samples.get(route.name)!.push(await drive(app.base, route.path, SECONDS));
        if (profile) process.stderr.write(`CPU profile: ${await ask(app.child, { profileStop: profile }, 'profiled')}\n`);
        if (holding) await fetch(`${app.base}/hold/stop`);
      }
    }
    const left = await nodesLeft(app.base);

    const byRound = (name: RouteName) => samples.get(name)!;
    const ratio = median(byRound('@WithLock').map((s, i) => s.rps / byRound('hand-written create+remove')[i].rps));
    const failed = ROUTES.reduce((sum, r) => sum + byRound(r.name).reduce((n, s) => n + s.failed, 0), 0);
    const rows = ROUTES.map((r) => {
      const s = byRound(r.name);
      const rps = median(s.map((x) => x.rps));
      const versus = r.name === '@WithLock' ? ` (${ratio.toFixed(2)}× hand-written)` : '';
      const cells = [median(s.map((x) => x.p50)).toFixed(1), median(s.map((x) => x.p99)).toFixed(1), median(s.map((x) => x.cpu)).toFixed(0)];
      return `| ${r.name} | ${rps.toFixed(0)}${versus} | ${cells.join(' | ')} |`;
    });
    process.stdout.write(
      [
        `HTTP: Nest 11 on Express, one app process; autocannon, ${CONNECTIONS} connections, a new id per request; ` +
          `${ROUNDS} rounds × ${SECONDS} s per route, medians`,
        `ZooKeeper ${server!.connectString} (${server!.external ? 'ZOOKEEPER_CONNECT' : `private standalone (JVM with its full JIT), fsync on, data in ${dir ?? 'a temp dir'}`}); ` +
          `node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
          `load average before ${loadBefore}, after ${load()}; ${new Date().toISOString().slice(0, 10)}`,
        '',
        '| route | requests/s | p50 ms | p99 ms | app CPU µs/request |',
        '|---|---|---|---|---|',
        ...rows,
        '',
        `@WithLock / hand-written: ${ratio.toFixed(2)}×; failed requests: ${failed}; nodes left behind: ${left}`,
        '',
      ].join('\n'),
    );
    if (failed > 0 || left > 0) process.exitCode = 1;
  } finally {
    if (app) await stopApp(app.child);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

// The server and the app are stopped by main's finally; not by a kill-all of the run id, which a test
// runner that starts this script shares with its own servers.
main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
