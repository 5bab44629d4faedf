/* Stops the shared server and, as a safety net, every server this run's tests started and left. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../scripts/zk.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgHarness = require('../../scripts/pg.js');

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __NZL_SERVER__?: { stop(): Promise<void> } }).__NZL_SERVER__;
  await server?.stop();
  const left = await harness.killAll(process.env.NZL_HARNESS_RUN);
  if (left > 0) process.stderr.write(`[zk] teardown killed ${left} server(s) left running by tests\n`);
  // PostgreSQL servers of this run (test/benchmarks.spec.ts marks its own with another run id and stops them).
  const pgLeft = await pgHarness.killAll(process.env.NZL_HARNESS_RUN);
  if (pgLeft > 0) process.stderr.write(`[pg] teardown killed ${pgLeft} server(s) left running by tests\n`);
}
