/* Stops the shared server and, as a safety net, every server this run's tests started and left. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../scripts/zk.js');

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __NZL_SERVER__?: { stop(): Promise<void> } }).__NZL_SERVER__;
  await server?.stop();
  const left = await harness.killAll(process.env.NZL_HARNESS_RUN);
  if (left > 0) process.stderr.write(`[zk] teardown killed ${left} server(s) left running by tests\n`);
}
