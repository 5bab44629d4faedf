/*
 * The benchmarks are scripts, not timed tests (CI does not run them in full): this checks that they
 * start and finish, with tiny parameters, and that their own checks pass (every request answered,
 * every UPDATE landed once, nothing left behind). No figure is asserted.
 *
 * bench:pg needs PostgreSQL (scripts/setup.sh installs Debian's `postgresql` as root): without it this
 * test fails, with the harness's message saying what to install.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sharedConnectString } from './support/zookeeper';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgHarness = require('../scripts/pg.js');

const ROOT = join(__dirname, '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bench script to its end (killed after `limitMs`, so that a hang fails instead of blocking). */
function runBench(script: string, env: Record<string, string>, limitMs = 150_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', './bench/register.js', script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGINT'), limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the script's own output when it did not exit 0 (e.g. the harness saying what to install). */
function expectSuccess(run: Run): void {
  if (run.code !== 0) throw new Error(`exit code ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

/** The first number in the table row whose first cell starts with `label`. */
function rowNumber(stdout: string, label: string): number {
  const row = stdout.split('\n').find((line) => line.startsWith(`| ${label}`));
  if (!row) throw new Error(`no row "${label}" in:\n${stdout}`);
  return Number(row.split('|')[2].trim().split(' ')[0]);
}

describe('benchmarks start (tiny runs)', () => {
  it('bench:http drives its routes and reports them, with no failed request and no node left', async () => {
    const run = await runBench('bench/http.bench.ts', {
      ZOOKEEPER_CONNECT: sharedConnectString(),
      BENCH_SECONDS: '0.5',
      BENCH_ROUNDS: '1',
      BENCH_CONNECTIONS: '4',
    });
    expectSuccess(run);
    for (const route of ['no lock', '@WithLock', 'LockService.withLock', 'hand-written create+remove', 'hand-written create+read+remove', 'a pass-through interceptor', 'hand-written interceptor', 'no lock, while another lock is held']) {
      expect(rowNumber(run.stdout, route)).toBeGreaterThan(0);
    }
    expect(run.stdout).toMatch(/@WithLock \/ hand-written: \d+\.\d\d×; failed requests: 0; nodes left behind: 0/);
  }, 180_000);

  it('bench:pg runs its three variants on a private PostgreSQL, loses no UPDATE, and stops the server', async () => {
    const run = randomBytes(6).toString('hex'); // the run id that marks the PostgreSQL it starts
    const result = await runBench('bench/pg.bench.ts', {
      ZOOKEEPER_CONNECT: sharedConnectString(),
      NZL_HARNESS_RUN: run,
      BENCH_SECONDS: '0.5',
      BENCH_ROUNDS: '1',
      PG_CALLERS: '20',
      PG_HOLD_MS: '5',
    });
    try {
      expectSuccess(result);
      for (const variant of ['(a)', '(b)', '(c)']) expect(rowNumber(result.stdout, variant)).toBeGreaterThan(0);
      const counted = result.stdout.match(/UPDATEs counted (\d+), landed (\d+); failed operations (\d+)/);
      expect(counted).not.toBeNull();
      expect(Number(counted![1])).toBeGreaterThan(0);
      expect(counted![2]).toBe(counted![1]);
      expect(counted![3]).toBe('0');
      // Stopped and cleaned up by the script itself.
      expect(pgHarness.harnessPids(run)).toEqual([]);
      const dataDir = result.stdout.match(/data under (\S+);/)?.[1];
      expect(dataDir).toBeDefined();
      expect(existsSync(dataDir!)).toBe(false);
    } finally {
      await pgHarness.killAll(run); // only if the script failed to
    }
  }, 180_000);
});
