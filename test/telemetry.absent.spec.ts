/**
 * Without @opentelemetry/api installed (#14): the optional peer is looked for once, lazily, and the library
 * works as before. The app runs in a child process whose resolver fails for @opentelemetry/* exactly as
 * Node's does for a missing package (test/support/hide-opentelemetry.js); this repository has the package
 * installed for telemetry.spec.ts, so hiding it is the honest way to be without it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { sharedConnectString } from './support/zookeeper';

function runChild(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', path.join(__dirname, 'support/hide-opentelemetry.js'), path.join(__dirname, 'support/otel-absent-app.ts')],
      { cwd: path.join(__dirname, '..'), env: { ...process.env, ZOOKEEPER_CONNECT: sharedConnectString() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('OpenTelemetry absent', () => {
  it('takes, refuses and releases locks in two apps, having looked for @opentelemetry/api exactly once', async () => {
    const { code, stdout, stderr } = await runChild();
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result).toEqual({
      conflict: true,
      events: ['0:acquired', '1:conflict', '0:released', '1:acquired', '1:released', '0:acquired', '0:released'],
      attempts: 1,
      loaded: [],
    });
  });
});
