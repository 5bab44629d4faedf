/**
 * `npm run bench` starts and prints its tables (a tiny run against the test ZooKeeper: fractions of a
 * second, one round, no Curator). CI never runs the full benchmarks; this only proves the scripts work.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { sharedConnectString } from './support/zookeeper';

function bench(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '-r', join(__dirname, '../bench/register.js'), join(__dirname, '../bench/lock.bench.ts'), ...args],
      { env: { ...process.env, ZOOKEEPER_CONNECT: sharedConnectString(), BENCH_ANCHORS: '0', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

describe('npm run bench (tiny run)', () => {
  it('prints the table with every case, no overlapping holders and no node left behind', async () => {
    const out = await bench([], { BENCH_SECONDS: '0.2', BENCH_ROUNDS: '1' });
    for (const row of ['raw ephemeral create+delete, sequential', 'fail-fast acquire+release, 64 concurrent ids', 'waiting acquire+release, uncontended, sequential', '16 callers contending for one id']) {
      expect(out).toMatch(new RegExp(`\\| ${row.replace(/[+.,]/g, '\\$&')}[^|]* \\| \\d+ \\|`));
    }
    expect(out).toContain('holders overlapping in the contended case: 0');
    expect(out).toContain('nodes left behind: 0');
  });

  it('prints the write coalescer A/B table', async () => {
    const out = await bench(['coalesce'], { BENCH_SECONDS: '0.2', BENCH_ROUNDS: '1' });
    for (const row of ['fail-fast acquire+release, 64 concurrent ids', 'raw ephemeral create+delete, 64 concurrent', 'fail-fast acquire+release, sequential']) {
      expect(out).toMatch(new RegExp(`\\| ${row.replace(/[+.,]/g, '\\$&')} \\| \\d+ \\| \\d+ \\| [\\d.]+× \\| \\d+ \\| \\d+ \\|`));
    }
  });

  it('prints the scale table', async () => {
    const out = await bench(['scale'], { SCALE_HELD: '0,100', SCALE_SAMPLES: '20' });
    expect(out).toMatch(/\| 100 \| [\d.]+ \| [\d.]+ \| [\d.]+× \| -?[\d.]+ KB \| -?[\d.]+ KB \|/);
  });
});
