/* The suite's usual global setup (shared ZooKeeper server), plus a fresh figures file naming the machine. */
import { cpus, totalmem } from 'node:os';
import sharedSetup from '../../support/global-setup';
import { writeFigures } from './figures';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../../scripts/zk.js');

export default async function globalSetup(): Promise<void> {
  await sharedSetup();
  const port = Number(String(process.env.NZL_TEST_ZK).split(',')[0].split(':')[1]);
  const srvr: string = await harness.fourLetterWord(port, 'srvr');
  writeFigures({
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      zookeeper: (srvr.match(/Zookeeper version: ([^,-\s]+)/) ?? [])[1] ?? 'unknown',
    },
    scenarios: [],
  });
}
