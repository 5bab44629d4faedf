/*
 * npm run bench: lock throughput against raw ZooKeeper operations, measured in the same run on the same
 * client, session and server. No pass/fail: it prints a table of rates and ratios.
 *
 * Uses ZOOKEEPER_CONNECT when set; otherwise starts a private standalone server with the test harness,
 * its data on tmpfs (/dev/shm) when there is one, so that disk-flush jitter does not drown the client-side
 * cost being compared (BENCH_DATA_DIR=<dir> puts it on a disk instead). BENCH_SECONDS (default 3) sets
 * the length of each measurement and BENCH_ROUNDS (default 5) the rounds; every round measures each case
 * once, back to back, and the table reports median rates and the median of the per-round ratios.
 */
import { Logger } from '@nestjs/common';
import { mkdtempSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../scripts/zk.js');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = 64;

type Worker = (i: number) => Promise<void>;

/** Runs `worker` back to back on `concurrency` lanes for SECONDS; returns completed cycles per second. */
async function rate(worker: Worker, concurrency: number, seconds = SECONDS): Promise<number> {
  let done = 0;
  const stopAt = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      for (let i = 0; Date.now() < stopAt; i++) {
        await worker(lane * 1_000_000 + i);
        done += 1;
      }
    }),
  );
  return (done * 1000) / (Date.now() - started);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const dataRoot = process.env.BENCH_DATA_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : undefined);
  const dir = dataRoot ? mkdtempSync(join(dataRoot, 'nzl-bench-')) : undefined;
  const server = process.env.ZOOKEEPER_CONNECT ? undefined : await harness.startStandalone({ tickTime: 2000, dir });
  const connectionString = process.env.ZOOKEEPER_CONNECT ?? server.connectString;
  const zk = new ZookeeperService({ connectionString, namespace: '/bench-locks' });
  if (!(await zk.connect())) throw new Error(`no ZooKeeper at ${connectionString}`);
  const locks = new LockService(new ZookeeperLockBackend(zk), zk.options);
  await zk.mkdirp('/bench-raw');
  await locks.withLock('warm-up', () => undefined);
  await locks.withLock('warm-up', () => undefined, { wait: 1000 });

  // The same node-zookeeper-client instance the service uses, called directly (no wrapper at all).
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
  const failFast: Worker = async (i) => (await locks.acquire(`id-${i}`)).release();
  const queued: Worker = async (i) => (await locks.acquire(`q-${i}`, { wait: 10_000 })).release();

  const cases: Array<{ name: string; worker: Worker; concurrency: number; baseline?: string }> = [
    { name: 'raw ephemeral create+delete, sequential', worker: rawCycle, concurrency: 1 },
    { name: 'fail-fast acquire+release, sequential', worker: failFast, concurrency: 1, baseline: 'raw ephemeral create+delete, sequential' },
    { name: 'waiting acquire+release, sequential', worker: queued, concurrency: 1, baseline: 'raw ephemeral create+delete, sequential' },
    { name: `raw ephemeral create+delete, ${CONCURRENCY} concurrent`, worker: rawCycle, concurrency: CONCURRENCY },
    { name: `fail-fast acquire+release, ${CONCURRENCY} concurrent ids`, worker: failFast, concurrency: CONCURRENCY, baseline: `raw ephemeral create+delete, ${CONCURRENCY} concurrent` },
    { name: `waiting acquire+release, ${CONCURRENCY} concurrent ids`, worker: queued, concurrency: CONCURRENCY, baseline: `raw ephemeral create+delete, ${CONCURRENCY} concurrent` },
  ];
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (const c of cases) await rate(c.worker, c.concurrency, 1); // warm-up (JIT, server caches): not counted
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) samples.get(c.name)!.push(await rate(c.worker, c.concurrency));
  }

  const rows = cases.map((c) => {
    const values = samples.get(c.name)!;
    const base = c.baseline ? samples.get(c.baseline)! : undefined;
    const ratio = base ? median(values.map((v, round) => v / base[round])).toFixed(2) + '×' : '1.00× (baseline)';
    return `| ${c.name} | ${median(values).toFixed(0)} | ${ratio} |`;
  });
  const leftovers = (await zk.getChildren('/bench-locks/default')).length + (await zk.getChildren('/bench-raw')).length;
  process.stdout.write(
    [
      `ZooKeeper ${connectionString} (${server ? `private standalone 3.8, data in ${dir ?? 'a temp dir'}` : 'ZOOKEEPER_CONNECT'}); node ${process.version}; ` +
        `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${ROUNDS} rounds × ${SECONDS} s, median`,
      '',
      '| operation | cycles/s | ratio to raw |',
      '|---|---|---|',
      ...rows,
      '',
      `nodes left behind: ${leftovers}`,
      '',
    ].join('\n'),
  );
  await zk.close();
  await server?.stop();
}

main().catch(async (error) => {
  process.stderr.write(`${error.stack}\n`);
  await harness.killAll(process.env.NZL_HARNESS_RUN).catch(() => undefined);
  process.exit(1);
});
