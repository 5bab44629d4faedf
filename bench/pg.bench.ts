/*
 * npm run bench:pg: the reason this library exists, measured. A row lock (`SELECT ... FOR UPDATE NOWAIT`)
 * pins a pooled database connection for as long as the lock is held; a ZooKeeper lock pins none.
 *
 * A private PostgreSQL (scripts/pg.js) and a private ZooKeeper (scripts/zk.js), both fsync on, data on
 * the same disk (os.tmpdir(), or BENCH_DATA_DIR). The `pg` client with a pool of 10 (its default).
 * 200 concurrent callers, each on its own id (so no lock ever conflicts), loop: take the lock, hold it
 * for 50 ms of work that is not the database (an outbound call), then one small UPDATE of the id's row,
 * then let go. Three ways to lock:
 *   (a) BEGIN; SELECT ... FOR UPDATE NOWAIT; 50 ms; UPDATE; COMMIT: one pooled connection for all of it
 *   (b) BEGIN; SELECT pg_try_advisory_xact_lock(id); 50 ms; UPDATE; COMMIT: the same, with an advisory lock
 *   (c) LockService.acquire (fail-fast, ZooKeeper); 50 ms; UPDATE on a pooled connection taken only for
 *       it (pool.query); release
 * Reports operations/s, p50/p99 latency (from the caller's start, waiting for a connection included) and
 * the pool's waiting count (callers queued for a connection), sampled every 5 ms: max and mean.
 * Each round runs the three back to back, in an order that rotates per round; medians over the rounds.
 * Checks that every UPDATE landed exactly once (sum of the counters) and that no caller failed; exits
 * non-zero otherwise. PostgreSQL and ZooKeeper are stopped on every exit, failures and Ctrl-C included.
 *
 * Env: BENCH_SECONDS (5) per measurement, BENCH_ROUNDS (3), PG_CALLERS (200), PG_HOLD_MS (50),
 * PG_POOL (10); ZOOKEEPER_CONNECT uses that ZooKeeper instead of a private one.
 */
import { Logger } from '@nestjs/common';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Pool, PoolClient } from 'pg';
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const zkHarness = require('../scripts/zk.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgHarness = require('../scripts/pg.js');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = Number(process.env.PG_CALLERS ?? 200);
const HOLD_MS = Number(process.env.PG_HOLD_MS ?? 50);
const POOL = Number(process.env.PG_POOL ?? 10);
const SAMPLE_EVERY_MS = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const UPDATE = 'UPDATE accounts SET balance = balance + 1 WHERE id = $1';

/** One locked operation on `id`; resolves when it is done and the lock let go. */
type Operation = (id: number) => Promise<void>;

interface Variant {
  key: string;
  name: string;
  op: Operation;
}

interface Sample {
  opsPerSecond: number;
  p50: number;
  p99: number;
  waitingMax: number;
  waitingMean: number;
  failed: number;
}

/** A transaction on one pooled connection around lock, hold and update. */
function inTransaction(pool: Pool, lockSql: string, granted: (row: Record<string, unknown> | undefined) => boolean): Operation {
  return async (id) => {
    const client: PoolClient = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(lockSql, [id]);
      if (!granted(rows[0])) throw new Error(`lock ${id} not granted`);
      await sleep(HOLD_MS);
      await client.query(UPDATE, [id]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
}

/** Runs every caller in a loop on its own id for SECONDS; samples the pool's waiting count meanwhile. */
async function measure(pool: Pool, op: Operation, seconds: number): Promise<Sample & { done: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const waiting: number[] = [];
  const sampler = setInterval(() => waiting.push(pool.waitingCount), SAMPLE_EVERY_MS);
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      while (performance.now() < stopAt) {
        const t0 = performance.now();
        try {
          await op(caller + 1);
          latencies.push(performance.now() - t0);
        } catch (error) {
          failed += 1;
          if (failed <= 3) process.stderr.write(`caller ${caller + 1}: ${(error as Error).message}\n`);
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    opsPerSecond: (latencies.length * 1000) / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    waitingMax: Math.max(0, ...waiting),
    waitingMean: waiting.length ? waiting.reduce((a, b) => a + b, 0) / waiting.length : 0,
    failed,
    done: latencies.length,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(2)).join(', ');

/** Whatever stops the run (an error, Ctrl-C), these run once: the servers never outlive the script. */
const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().then(() => process.exit(130)));
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(event, (error: unknown) => {
    process.stderr.write(`bench:pg: ${event}: ${(error as Error)?.stack ?? String(error)}\n`);
    void cleanUp().then(() => process.exit(1));
  });
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const loadBefore = load();
  const root = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'nzl-bench-pg-'));
  chmodSync(root, 0o755); // as root, PostgreSQL runs as the postgres user and must reach its dir inside
  cleanups.push(async () => rmSync(root, { recursive: true, force: true }));

  const postgres = await pgHarness.startPostgres({ root });
  cleanups.push(() => postgres.stop());
  const zkServer = await zkHarness.startStandalone({ tickTime: 2000, dir: process.env.ZOOKEEPER_CONNECT ? undefined : join(root, 'zk'), jvmFlags: zkHarness.BENCH_JVM_FLAGS });
  cleanups.push(() => zkServer.stop());

  const pool = new Pool({ connectionString: postgres.connectionString, max: POOL });
  // An idle pooled connection that fails (the server going away) is reported, not an unhandled 'error'.
  pool.on('error', (error) => process.stderr.write(`bench:pg: idle pool connection: ${error.message}\n`));
  cleanups.push(() => pool.end());
  await pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0)');
  await pool.query('INSERT INTO accounts (id) SELECT generate_series(1, $1::int)', [CALLERS]);

  const zk = new ZookeeperService({ connectionString: zkServer.connectString, namespace: '/bench-pg' });
  cleanups.push(() => zk.close());
  if (!(await zk.connect())) throw new Error(`no ZooKeeper at ${zkServer.connectString}`);
  const locks = new LockService(new ZookeeperLockBackend(zk), zk.options);

  const variants: Variant[] = [
    {
      key: 'a',
      name: '(a) transaction, SELECT ... FOR UPDATE NOWAIT',
      op: inTransaction(pool, 'SELECT id FROM accounts WHERE id = $1 FOR UPDATE NOWAIT', (row) => row !== undefined),
    },
    {
      key: 'b',
      name: '(b) transaction, pg_try_advisory_xact_lock',
      op: inTransaction(pool, 'SELECT pg_try_advisory_xact_lock($1) AS granted', (row) => row?.granted === true),
    },
    {
      key: 'c',
      name: '(c) LockService (ZooKeeper), pool only for the UPDATE',
      op: async (id) => {
        const lock = await locks.acquire(`acct-${id}`);
        try {
          await sleep(HOLD_MS);
          await pool.query(UPDATE, [id]);
        } finally {
          await lock.release();
        }
      },
    },
  ];

  let updates = 0;
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.key, []]));
  for (const v of variants) updates += (await measure(pool, v.op, Math.min(1, SECONDS))).done; // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length];
      const sample = await measure(pool, v.op, SECONDS);
      updates += sample.done;
      samples.get(v.key)!.push(sample);
    }
  }
  const { rows } = await pool.query('SELECT sum(balance)::bigint AS total FROM accounts');
  const landed = Number(rows[0].total);
  const failed = [...samples.values()].flat().reduce((n, s) => n + s.failed, 0);

  const fmt = (n: number, digits = 0) => n.toFixed(digits);
  const lines = variants.map((v) => {
    const s = samples.get(v.key)!;
    const m = (f: (x: Sample) => number) => median(s.map(f));
    return `| ${v.name} | ${fmt(m((x) => x.opsPerSecond))} | ${fmt(m((x) => x.p50))} | ${fmt(m((x) => x.p99))} | ${fmt(m((x) => x.waitingMax))} | ${fmt(m((x) => x.waitingMean), 1)} |`;
  });
  process.stdout.write(
    [
      `PostgreSQL ${(await pool.query('SHOW server_version')).rows[0].server_version} (private, fsync on) and ZooKeeper ` +
        `${zkServer.external ? `at ${zkServer.connectString} (ZOOKEEPER_CONNECT)` : '(private standalone, fsync on)'}, data under ${root}; ` +
        `pg pool of ${POOL}; ${CALLERS} callers on distinct ids, each holding its lock ${HOLD_MS} ms, then one UPDATE`,
      `node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
        `${ROUNDS} rounds × ${SECONDS} s per variant, medians; load average before ${loadBefore}, after ${load()}; ${new Date().toISOString().slice(0, 10)}`,
      '',
      '| lock | operations/s | p50 ms | p99 ms | pool waiting, max | pool waiting, mean |',
      '|---|---|---|---|---|---|',
      ...lines,
      '',
      `A transaction that holds its connection for ${HOLD_MS} ms caps (a) and (b) at ${POOL} / ${HOLD_MS} ms = ${fmt((POOL * 1000) / HOLD_MS)} operations/s.`,
      `UPDATEs counted ${updates}, landed ${landed}; failed operations ${failed}`,
      '',
    ].join('\n'),
  );
  if (landed !== updates || failed > 0) {
    process.stderr.write('bench:pg: an operation failed or an UPDATE was lost (see above)\n');
    process.exitCode = 1;
  }
}

main()
  .catch((error) => {
    process.stderr.write(`bench:pg: ${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanUp());
