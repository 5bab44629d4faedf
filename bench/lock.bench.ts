/*
 * npm run bench [table|scale]: the lock against raw ZooKeeper operations and Apache Curator, measured in
 * the same run on the same server. No pass/fail: it prints tables of rates and ratios.
 *
 * table (default): paired rounds; every round measures each case once, back to back (raw, this library,
 *   Curator), and the table reports median rates and the median of the per-round ratios. Cases:
 *   sequential and 64-concurrent raw create+delete, fail-fast, uncontended waiting, and 16 callers
 *   contending for one id with `wait: Infinity` (hand-offs/s, holders overlapping counted).
 * scale: fail-fast acquire latency (p50, p99) with 0, 10,000 and 100,000 locks held on the same session,
 *   and the heap and RSS each held lock costs (run with --expose-gc: the npm script does).
 * coalesce: the write coalescer on and off in one process (an A/B, rounds of BENCH_SECONDS=1 each way,
 *   BENCH_ROUNDS=8): rates and client CPU per cycle.
 *
 * Server: ZOOKEEPER_CONNECT when set; otherwise a private standalone ZooKeeper started by the test
 * harness, its data on disk with fsync on (in /var/tmp; BENCH_DATA_DIR=<dir> elsewhere, BENCH_TMPFS=1 on
 * /dev/shm, where fsync costs nothing). BENCH_SECONDS (default 3) per measurement, BENCH_ROUNDS (default
 * 5). Curator: ../shared/anchors/*.java (BENCH_ANCHORS_DIR), compiled against Debian's
 * libcurator-recipes-java when present; BENCH_ANCHORS=0 leaves it out. SCALE_HELD=0,10000,100000 and
 * SCALE_SAMPLES=2000 size the scale run. BENCH_ONLY=<text> runs only the cases whose name contains it
 * (without Curator); BENCH_CPU_PROFILE=<file> writes a CPU profile of the measured rounds.
 */
import { Logger } from '@nestjs/common';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import type { LockHandle } from '../lib/lock/lock-handle';
import { CuratorAnchors, CuratorFigures } from './anchors';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../scripts/zk.js');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = 64;
const CONTENDERS = 16;

type Worker = (i: number) => Promise<void>;

/** Runs `worker` back to back on `concurrency` lanes for `seconds`; returns completed cycles per second. */
async function rate(worker: Worker, concurrency: number, seconds = SECONDS): Promise<number> {
  return (await measure(worker, concurrency, seconds)).rate;
}

/** As `rate`, with this process's CPU time (user + system) per completed cycle, in µs. */
async function measure(worker: Worker, concurrency: number, seconds: number): Promise<{ rate: number; cpuPerCycle: number }> {
  let done = 0;
  const stopAt = Date.now() + seconds * 1000;
  const started = Date.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      for (let i = 0; Date.now() < stopAt; i++) {
        await worker(lane * 1_000_000 + i);
        done += 1;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { rate: (done * 1000) / (Date.now() - started), cpuPerCycle: (used.user + used.system) / done };
}

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const gc = (globalThis as { gc?: () => void }).gc;
/** The server this process started, if any (stopped on failure too). */
let started: { stop(): Promise<void> } | undefined;

interface Setup {
  zk: ZookeeperService;
  locks: LockService;
  connectionString: string;
  describe: string;
  stop(): Promise<void>;
}

async function setUp(namespace: string): Promise<Setup> {
  Logger.overrideLogger(['error']);
  const tmpfs = process.env.BENCH_TMPFS === '1' && existsSync('/dev/shm');
  const dataRoot = process.env.BENCH_DATA_DIR ?? (tmpfs ? '/dev/shm' : existsSync('/var/tmp') ? '/var/tmp' : undefined);
  const dir = !process.env.ZOOKEEPER_CONNECT && dataRoot ? mkdtempSync(join(dataRoot, 'nzl-bench-')) : undefined;
  const server = process.env.ZOOKEEPER_CONNECT ? undefined : await harness.startStandalone({ tickTime: 2000, dir, jvmFlags: harness.BENCH_JVM_FLAGS });
  started = server;
  const connectionString: string = process.env.ZOOKEEPER_CONNECT ?? server.connectString;
  const zk = new ZookeeperService({ connectionString, namespace, maxWaiters: { perId: Infinity, perProcess: Infinity } });
  if (!(await zk.connect())) throw new Error(`no ZooKeeper at ${connectionString}`);
  const locks = new LockService(new ZookeeperLockBackend(zk), zk.options);
  const where = server ? `private standalone ZooKeeper 3.8 (JVM with its full JIT and a 1 GB heap), data in ${dir ?? 'a temp dir'} (${tmpfs ? 'tmpfs' : 'disk, fsync on'})` : 'ZOOKEEPER_CONNECT';
  return {
    zk,
    locks,
    connectionString,
    describe:
      `ZooKeeper ${connectionString}: ${where}; node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GB; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    async stop() {
      await zk.close();
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------------ table

/**
 * The same node-zookeeper-client instance the service uses, called directly (no wrapper at all), and
 * its plain cycle: an ephemeral create, then its delete, under /bench-raw.
 */
function rawClient(zk: ZookeeperService) {
  const raw = (zk as unknown as { session: { client: import('../lib/zookeeper/zookeeper-client.types').RawClient } }).session.client;
  const { ACL, Id } = require('node-zookeeper-client'); // eslint-disable-line @typescript-eslint/no-require-imports
  const open = [new ACL(31, new Id('world', 'anyone'))];
  const EPHEMERAL = 1;
  const rawCycle: Worker = (i) =>
    new Promise((resolve, reject) =>
      raw.create(`/bench-raw/n${i}`, undefined, open, EPHEMERAL, (e) =>
        e ? reject(e) : raw.remove(`/bench-raw/n${i}`, -1, (e2) => (e2 ? reject(e2) : resolve())),
      ),
    );
  return { raw, open, EPHEMERAL, rawCycle };
}

async function table(): Promise<void> {
  const anchors = new CuratorAnchors(); // compiles first: javac blocks this process for seconds
  const setup = await setUp('/bench-locks');
  const { zk, locks } = setup;
  await zk.mkdirp('/bench-raw');
  // CurBench creates raw nodes under /cur, which Curator's lock otherwise makes as a container the server
  // may reap between its steps: a persistent /cur keeps it there.
  if (anchors.available) await (setup.zk as ZookeeperService).mkdirp('/cur').catch(() => undefined);
  await locks.withLock('warm-up', () => undefined);
  await locks.withLock('warm-up', () => undefined, { wait: 1000 });

  const { raw, open, EPHEMERAL, rawCycle } = rawClient(zk);
  // The same requests as the library's cycles, sent raw: what the algorithm costs on the wire, so that
  // the library's own per-call cost shows as the ratio to these. Fail-fast: the create with a watching
  // read right behind it (same round trip), then the delete at the version read.
  const data = Buffer.from(JSON.stringify({ t: 'tokentokentokentokentoke', o: 'bench' }));
  const onChange = () => undefined;
  const rawWatched = (create: (done: (e: Error | null) => void) => void, path: string): Promise<void> =>
    new Promise((resolve, reject) => {
      let created = false;
      create((e) => (e ? reject(e) : (created = true)));
      raw.getData(path, onChange, (e, _data, stat) =>
        e || !created || !stat ? reject(e ?? new Error('read before create')) : raw.remove(path, stat.version, (e2) => (e2 ? reject(e2) : resolve())),
      );
    });
  const rawFailFastRequests: Worker = (i) =>
    rawWatched((done) => raw.create(`/bench-raw/w${i}`, data, open, EPHEMERAL, done), `/bench-raw/w${i}`);
  // Uncontended waiting: one MULTI that creates and deletes the queue node (the probe) and creates the
  // holder; then as fail-fast. (The library's queue node is a container; raw, a persistent node.)
  const rawWaitingRequests: Worker = (i) =>
    rawWatched(
      (done) =>
        raw
          .transaction()
          .create(`/bench-raw/w${i}%q`, undefined, open, 0)
          .remove(`/bench-raw/w${i}%q`, -1)
          .create(`/bench-raw/w${i}`, data, open, EPHEMERAL)
          .commit((e) => done(e)),
      `/bench-raw/w${i}`,
    );
  const failFast: Worker = async (i) => (await locks.acquire(`id-${i}`)).release();
  const queued: Worker = async (i) => (await locks.acquire(`q-${i}`, { wait: 10_000 })).release();
  // 16 callers on one id: every cycle is one hand-off. The critical section yields to I/O once, so that a
  // second holder, if there were one, would be inside at the same time and counted.
  let inside = 0;
  let overlaps = 0;
  const contended: Worker = async () => {
    const lock = await locks.acquire('contended', { wait: Infinity });
    inside += 1;
    if (inside !== 1) overlaps += 1;
    await new Promise((resolve) => setImmediate(resolve));
    inside -= 1;
    await lock.release();
  };

  const RAW_SEQ = 'raw ephemeral create+delete, sequential';
  const RAW_CONC = `raw ephemeral create+delete, ${CONCURRENCY} concurrent`;
  const FLOOR_FAIL_FAST = "raw, fail-fast's requests (create + watching read, delete), sequential";
  const FLOOR_WAITING = "raw, uncontended waiting's requests (MULTI probe+create + watching read, delete), sequential";
  const FLOOR_CONC = `raw, fail-fast's requests, ${CONCURRENCY} concurrent`;
  const cases: Array<{ name: string; worker: Worker; concurrency: number; baseline?: string; floor?: string }> = [
    { name: RAW_SEQ, worker: rawCycle, concurrency: 1 },
    { name: FLOOR_FAIL_FAST, worker: rawFailFastRequests, concurrency: 1, baseline: RAW_SEQ },
    { name: 'fail-fast acquire+release, sequential', worker: failFast, concurrency: 1, baseline: RAW_SEQ, floor: FLOOR_FAIL_FAST },
    { name: FLOOR_WAITING, worker: rawWaitingRequests, concurrency: 1, baseline: RAW_SEQ },
    { name: 'waiting acquire+release, uncontended, sequential', worker: queued, concurrency: 1, baseline: RAW_SEQ, floor: FLOOR_WAITING },
    { name: RAW_CONC, worker: rawCycle, concurrency: CONCURRENCY },
    { name: FLOOR_CONC, worker: rawFailFastRequests, concurrency: CONCURRENCY, baseline: RAW_CONC },
    { name: `fail-fast acquire+release, ${CONCURRENCY} concurrent ids`, worker: failFast, concurrency: CONCURRENCY, baseline: RAW_CONC, floor: FLOOR_CONC },
    { name: `waiting acquire+release, ${CONCURRENCY} concurrent ids`, worker: queued, concurrency: CONCURRENCY, baseline: RAW_CONC, floor: FLOOR_CONC },
    { name: `${CONTENDERS} callers contending for one id (hand-offs/s)`, worker: contended, concurrency: CONTENDERS, baseline: 'curator:contend' },
  ];
  // BENCH_ONLY=<text>: only the cases whose name contains it (e.g. to profile one with --cpu-prof).
  const only = process.env.BENCH_ONLY;
  if (only) cases.splice(0, cases.length, ...cases.filter((c) => c.name.includes(only)));
  const samples = new Map<string, number[]>([...cases.map((c) => [c.name, []] as [string, number[]]), ['curator:contend', []]]);
  const curator: CuratorFigures[] = [];
  let curatorViolations = 0;
  for (const c of cases) await rate(c.worker, c.concurrency, Math.min(1, SECONDS)); // warm-up: not counted
  const profiler = process.env.BENCH_CPU_PROFILE ? await startProfile() : undefined;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) samples.get(c.name)!.push(await rate(c.worker, c.concurrency));
    if (anchors.available && !only) {
      const contend = await anchors.contend(setup.connectionString, CONTENDERS, Math.max(1, Math.round(SECONDS)));
      samples.get('curator:contend')!.push(contend.handoffs);
      curatorViolations += contend.violations;
      curator.push(await anchors.bench(setup.connectionString, Math.max(50, Math.round(SECONDS * 300))));
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done (load ${loadavg()[0].toFixed(2)})\n`);
  }

  if (profiler) await profiler.stop(process.env.BENCH_CPU_PROFILE as string);
  const curatorColumn: Record<string, string> = anchors.available
    ? {
        'fail-fast acquire+release, sequential': `try(0 ms) ${fmt(median(curator.map((c) => c.tryZero)))}/s`,
        'waiting acquire+release, uncontended, sequential': `${fmt(median(curator.map((c) => c.sequential)))}/s (${fmt(median(curator.map((c) => c.sequential / c.raw)), 2)}× its raw)`,
        [RAW_SEQ]: `${fmt(median(curator.map((c) => c.raw)))}/s (Curator's raw)`,
        [`waiting acquire+release, ${CONCURRENCY} concurrent ids`]: `${fmt(median(curator.map((c) => c.threads64)))}/s (64 threads)`,
        [`${CONTENDERS} callers contending for one id (hand-offs/s)`]: `${fmt(median(samples.get('curator:contend')!))}/s (violations ${curatorViolations})`,
      }
    : {};
  const ratioTo = (values: number[], name: string | undefined) => {
    const base = name ? samples.get(name) : undefined;
    return base && base.length === values.length ? fmt(median(values.map((v, round) => v / base[round])), 2) + '×' : '';
  };
  const rows = cases.map((c) => {
    const values = samples.get(c.name)!;
    const ratio = c.baseline ? ratioTo(values, c.baseline) || 'n/a' : '1.00× (baseline)';
    return `| ${c.name} | ${fmt(median(values))} | ${ratio} | ${ratioTo(values, c.floor)} | ${curatorColumn[c.name] ?? ''} |`;
  });
  const leftovers = (await zk.getChildren('/bench-locks/default')).length + (await zk.getChildren('/bench-raw')).length;
  process.stdout.write(
    [
      setup.describe,
      `${ROUNDS} rounds × ${SECONDS} s, medians; ratios: median of per-round ratios (raw rows: to raw; the contended row: to Curator's CurContend in the same round); 'to its requests, raw': the library's rate over the same ZooKeeper requests sent with the raw client`,
      anchors.available ? '' : `Curator not run: ${anchors.problem}`,
      '',
      '| operation | cycles/s | ratio | to its requests, raw | Curator 5.4, same server and run |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      `holders overlapping in the contended case: ${overlaps}`,
      `nodes left behind: ${leftovers}`,
      `load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      '',
    ].join('\n'),
  );
  anchors.dispose();
  await setup.stop();
}

/**
 * BENCH_CPU_PROFILE=<file.cpuprofile>: a V8 CPU profile of the measured rounds only (not start-up, not
 * ts-node's compiling); summarise it with `node scripts/cpu-profile-top.js <file>`.
 */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

// ------------------------------------------------------------------------------------------ scale

function memory(): { heap: number; rss: number } {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Fail-fast acquire latency (ms) of `samples` sequential acquires of fresh ids, each released after. */
async function latencies(locks: LockService, samples: number, tag: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const lock = await locks.acquire(`probe-${tag}-${i}`);
    out.push(performance.now() - started);
    await lock.release();
  }
  return out.sort((a, b) => a - b);
}

async function scale(): Promise<void> {
  const levels = (process.env.SCALE_HELD ?? '0,10000,100000').split(',').map(Number);
  const samples = Number(process.env.SCALE_SAMPLES ?? 2000);
  const setup = await setUp('/bench-scale');
  const { locks } = setup;
  if (!gc) process.stderr.write('(no --expose-gc: memory figures include garbage)\n');
  await latencies(locks, Math.min(samples, 500), 'warm');
  const held: LockHandle[] = [];
  const rows: string[] = [];
  let empty = NaN;
  const base = memory();
  for (const level of levels) {
    // Take locks up to `level`, 64 at a time (the way a busy app would), then measure.
    while (held.length < level) {
      const batch = Array.from({ length: Math.min(64, level - held.length) }, (_, k) => locks.acquire(`held-${held.length + k}`));
      held.push(...(await Promise.all(batch)));
    }
    const mem = memory();
    const sorted = await latencies(locks, samples, String(level));
    const p50 = percentile(sorted, 50);
    if (level === 0 || Number.isNaN(empty)) empty = p50;
    const perLock = (bytes: number) => (level === 0 ? '' : fmt((bytes / level / 1024), 2) + ' KB');
    rows.push(
      `| ${level.toLocaleString('en')} | ${fmt(p50, 3)} | ${fmt(percentile(sorted, 99), 3)} | ${fmt(p50 / empty, 2)}× | ${perLock(mem.heap - base.heap)} | ${perLock(mem.rss - base.rss)} |`,
    );
    process.stderr.write(`${level} held: done (load ${loadavg()[0].toFixed(2)})\n`);
  }
  process.stdout.write(
    [
      setup.describe,
      `fail-fast acquire latency over ${samples} sequential acquires (each released) of fresh ids, with N other locks held on the same session`,
      '',
      '| locks held | p50 ms | p99 ms | p50 vs none | heap per held lock | RSS per held lock |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      '',
    ].join('\n'),
  );
  for (let i = 0; i < held.length; i += 256) await Promise.all(held.slice(i, i + 256).map((h) => h.release()));
  await setup.stop();
}

// ------------------------------------------------------------------------------------------ coalesce

/**
 * The write coalescer (connection-manager.patch.ts) on and off in one process, on one session and one
 * server: each round measures every case both ways, back to back, in alternating order (so that a drift
 * of the server or the disk falls on both), and the table gives median rates, the median of the per-round
 * ratios, and this process's CPU per cycle. Separate runs of `table` cannot show a few per cent; this can.
 */
async function coalesce(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 1);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
  const setup = await setUp('/bench-coalesce');
  const { zk, locks } = setup;
  await zk.mkdirp('/bench-raw');
  const { rawCycle } = rawClient(zk);
  const coalescing = coalescerSwitch(zk);
  const failFast: Worker = async (i) => (await locks.acquire(`id-${i}`)).release();
  const cases = [
    { name: `fail-fast acquire+release, ${CONCURRENCY} concurrent ids`, worker: failFast, concurrency: CONCURRENCY },
    { name: `raw ephemeral create+delete, ${CONCURRENCY} concurrent`, worker: rawCycle, concurrency: CONCURRENCY },
    { name: 'fail-fast acquire+release, sequential', worker: failFast, concurrency: 1 },
  ];
  type Figures = { rate: number; cpuPerCycle: number };
  const results = cases.map(() => ({ on: [] as Figures[], off: [] as Figures[] }));
  for (const c of cases) {
    for (const on of [true, false]) {
      coalescing(on);
      await rate(c.worker, c.concurrency, Math.min(1, seconds)); // warm-up: not counted
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const [k, c] of cases.entries()) {
      for (const on of round % 2 === 0 ? [true, false] : [false, true]) {
        coalescing(on);
        results[k][on ? 'on' : 'off'].push(await measure(c.worker, c.concurrency, seconds));
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done (load ${loadavg()[0].toFixed(2)})\n`);
  }
  coalescing(true);
  const rows = cases.map((c, k) => {
    const { on, off } = results[k];
    const ratio = median(on.map((figures, round) => figures.rate / off[round].rate));
    const cpu = (xs: Figures[]) => fmt(median(xs.map((x) => x.cpuPerCycle)));
    return `| ${c.name} | ${fmt(median(on.map((x) => x.rate)))} | ${fmt(median(off.map((x) => x.rate)))} | ${fmt(ratio, 2)}× | ${cpu(on)} | ${cpu(off)} |`;
  });
  process.stdout.write(
    [
      setup.describe,
      `${rounds} rounds × ${seconds} s each way, medians; ratio: median of the per-round ratios; CPU: this process (client) only`,
      '',
      '| operation | coalescing on, cycles/s | off | on/off | client CPU µs/cycle, on | off |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      '',
    ].join('\n'),
  );
  await setup.stop();
}

/**
 * Turns the session's write coalescer on or off: it is the packet queue's one 'readable' listener that
 * is not the client's own (bound) one. Fails loudly if the client's internals are not as expected.
 */
function coalescerSwitch(zk: ZookeeperService): (on: boolean) => void {
  type Listener = (...args: unknown[]) => void;
  const queue = (zk as unknown as { session: { client: { connectionManager: { packetQueue: import('node:events').EventEmitter } } } }).session.client
    .connectionManager.packetQueue;
  const ours = queue.listeners('readable').filter((listener) => !listener.name.startsWith('bound ')) as Listener[];
  if (ours.length !== 1) throw new Error(`expected one write coalescer on the packet queue, found ${ours.length}`);
  const [listener] = ours;
  return (on) => {
    queue.removeListener('readable', listener);
    if (on) queue.prependListener('readable', listener);
  };
}

const command = process.argv[2] ?? 'table';
const run = command === 'scale' ? scale : command === 'table' ? table : command === 'coalesce' ? coalesce : undefined;
if (!run) {
  process.stderr.write('usage: npm run bench [-- table|scale|coalesce]\n');
  process.exit(2);
}
run().catch(async (error) => {
  process.stderr.write(`${error.stack}\n`);
  // Only the server this process started (never other runs' servers: the machine is shared).
  await started?.stop().catch(() => undefined);
  process.exit(1);
});
