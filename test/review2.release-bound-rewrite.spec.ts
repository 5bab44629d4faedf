/**
 * Review 2: a release waits for a fencing rewrite in flight, then does its own two operation timeouts.
 *
 * README (Bounded answers): "a release that meets an outage returns after at most two operation timeouts".
 * releaseNodes() first awaits `owned.rewriting` (the setData of a handed-over holder's first
 * fencingToken(), bounded by one operation timeout), and only then starts the release proper (a read
 * that times out: one more, then the janitor: one more). Against a frozen server a handed-over holder
 * that asked for its token just before releasing (e.g. a withLock body that gave up waiting on
 * fencingToken() and returned) answers its release after three operation timeouts.
 */
import { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { ZookeeperLockModuleOptions } from '../lib/module/zookeeper-lock-options.interface';
import type { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService } from './support/locks';
import { cleanup, newService, startServer, uniqueNamespace } from './support/zookeeper';
import { handedOver } from './support/hand-offs';

afterEach(cleanup);

async function side(options: Partial<ZookeeperLockModuleOptions>): Promise<{ lock: LockService; zk: ZookeeperService; backend: ZookeeperLockBackend }> {
  const zk = await newService({ namespace: uniqueNamespace('r2bound'), ...options });
  const lock = newLockService(zk);
  const backend = (lock as unknown as { backend: ZookeeperLockBackend }).backend;
  await lock.withLock('warm', () => undefined, { wait: 1_000 });
  return { lock, zk, backend };
}

it('returns from the release of a handed-over holder whose fencing rewrite is in flight within two operation timeouts', async () => {
  const server = await startServer();
  const { lock, backend } = await side({ connectionString: server.connectString, sessionTimeout: 20_000, operationTimeout: 2_000 });
  const second = await handedOver({ lock, backend }, 'b'); // handed over
  server.pause();
  const started = Date.now();
  let elapsed: number;
  try {
    const token = second.fencingToken().catch((e) => e); // the rewrite's setData goes out, unanswered
    await second.release();
    elapsed = Date.now() - started;
    await token;
  } finally {
    server.resume();
  }
  expect(elapsed).toBeLessThan(5_000); // 2 timeouts (4 s), not 3 (6 s)
}, 40_000);
