/* Starts the suite's shared standalone ZooKeeper (or uses ZOOKEEPER_CONNECT) before any test file. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../scripts/zk.js');

export default async function globalSetup(): Promise<void> {
  harness.runId(); // one run id, inherited by test workers, marks every server this run starts
  const server = await harness.startStandalone();
  process.env.NZL_TEST_ZK = server.connectString;
  (globalThis as { __NZL_SERVER__?: unknown }).__NZL_SERVER__ = server;
}
