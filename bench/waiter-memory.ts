/*
 * npm run bench:waiters: what one queued waiter costs this process, and what the queue costs ZooKeeper.
 * One session holds an id; WAITERS (default 2000) acquires queue for it with `wait: Infinity` on another
 * session. Prints heap and RSS per waiter (after a forced GC, so run with --expose-gc: the npm script
 * does) and the bytes the waiters' session read from ZooKeeper to get in line. No pass/fail.
 *
 * Uses ZOOKEEPER_CONNECT when set; otherwise starts a private standalone server with the test harness.
 */
import { Logger } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../scripts/zk.js');

const WAITERS = Number(process.env.WAITERS ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;

function settle(): void {
  for (let i = 0; i < 3; i++) gc?.();
}

/** Bytes received on the session's sockets so far (node-zookeeper-client keeps one socket at a time). */
function bytesRead(zk: ZookeeperService): number {
  const socket = (zk as unknown as { session?: { client?: { connectionManager?: { socket?: { bytesRead: number } } } } }).session?.client
    ?.connectionManager?.socket;
  return socket?.bytesRead ?? NaN;
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  if (!gc) process.stderr.write('(no --expose-gc: figures include garbage)\n');
  const server = process.env.ZOOKEEPER_CONNECT ? undefined : await harness.startStandalone({ tickTime: 2000 });
  const connectionString = process.env.ZOOKEEPER_CONNECT ?? server.connectString;
  const namespace = `/bench-waiters-${process.pid}`;
  const holderZk = new ZookeeperService({ connectionString, namespace });
  const waiterZk = new ZookeeperService({ connectionString, namespace, maxWaiters: { perId: Infinity, perProcess: Infinity } });
  try {
    if (!(await holderZk.connect()) || !(await waiterZk.connect())) throw new Error(`no ZooKeeper at ${connectionString}`);
    const holder = new LockService(new ZookeeperLockBackend(holderZk), holderZk.options);
    const waiters = new LockService(new ZookeeperLockBackend(waiterZk), waiterZk.options);
    // Warm up both paths, so that code and pools made once are not counted per waiter.
    await waiters.withLock('warm', () => undefined, { wait: 1000 });
    const held = await holder.acquire('busy');
    settle();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const readBefore = bytesRead(waiterZk);
    const cancel = new AbortController();
    setMaxListeners(0, cancel.signal); // one signal for every waiter here; an app has one per request
    const queued = Array.from({ length: WAITERS }, () =>
      waiters.acquire('busy', { wait: Infinity, signal: cancel.signal }).then(
        (lock) => lock.release(),
        () => undefined,
      ),
    );
    // In line: every waiter node exists and every waiter sits on its predecessor's watch.
    const queue = `${namespace}/default/busy%q`;
    for (const giveUpAt = Date.now() + 120_000; ; ) {
      const children = await holderZk.getChildren(queue).catch(() => []);
      if (children.length >= WAITERS) break;
      if (Date.now() > giveUpAt) throw new Error(`only ${children.length} of ${WAITERS} waiters got in line`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last listings and watches land
    settle();
    const heap = (process.memoryUsage().heapUsed - heapBefore) / WAITERS;
    const rss = (process.memoryUsage().rss - rssBefore) / WAITERS;
    const read = (bytesRead(waiterZk) - readBefore) / WAITERS;
    cancel.abort(new Error('bench over'));
    await Promise.all(queued);
    await held.release();
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
    process.stdout.write(
      `waiters queued on one id: ${WAITERS}\n` +
        `heap per waiter:          ${kb(heap)}\n` +
        `RSS per waiter:           ${kb(rss)}\n` +
        `read from ZooKeeper:      ${kb(read)} per waiter to get in line (grows with the queue: each lists it)\n`,
    );
  } finally {
    await Promise.all([holderZk.close(), waiterZk.close()]);
    await server?.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
