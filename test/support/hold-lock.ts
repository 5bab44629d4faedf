/*
 * A separate process that takes a lock and holds it until killed: for crash tests.
 * Usage: node -r ts-node/register/transpile-only test/support/hold-lock.ts <connect> <namespace> <id> <sessionTimeout>
 * Prints "held <sessionId>" once it holds the lock.
 */
import { newLockService } from './locks';
import { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';
import { Logger } from '@nestjs/common';

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const [connectionString, namespace, id, sessionTimeout] = process.argv.slice(2);
  const zk = new ZookeeperService({ connectionString, namespace, sessionTimeout: Number(sessionTimeout) });
  if (!(await zk.connect())) throw new Error('no ZooKeeper');
  await newLockService(zk).acquire(id);
  process.stdout.write(`held ${zk.sessionId}\n`);
  setInterval(() => undefined, 1 << 30); // hold until killed
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
