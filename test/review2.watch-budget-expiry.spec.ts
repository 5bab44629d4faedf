/**
 * Review 2: the holder-watch budget (1,000 per process) is never given back for locks whose session ended.
 *
 * releaseNodes() returns as soon as the grant's session is not the live one, before it drops the grant's
 * holder watches; the old session's watches never fire (a new client, a new registry). So every lock held
 * when a session expires keeps its budget unit for ever: after 1,000 of them (one expiry while 1,000 locks
 * are held), no lock of the process gets a holder watch again (every release reads first, every signal
 * costs a read, fencingToken costs a read), silently, until restart.
 */
import { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService, recordCalls } from './support/locks';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';
import { budgetOf } from './support/hand-offs';

afterEach(cleanup);

async function side(): Promise<{ lock: LockService; zk: ZookeeperService; backend: ZookeeperLockBackend }> {
  const zk = await newService({ namespace: uniqueNamespace('r2budget') });
  const lock = newLockService(zk);
  const backend = (lock as unknown as { backend: ZookeeperLockBackend }).backend;
  await lock.withLock('warm', () => undefined, { wait: 1_000 });
  return { lock, zk, backend };
}

describe('holder-watch budget across a session expiry', () => {
  it('gives back the watches of locks lost with their session', async () => {
    const { lock, zk, backend } = await side();
    const budget = budgetOf(backend);
    const held = await Promise.all([
      lock.acquire('a'), // fail-fast
      lock.acquire('b', { wait: 1_000 }), // uncontended
      lock.acquire('c'),
    ]);
    expect(budget.inUse).toBe(3);
    await expireSession(sharedConnectString(), zk);
    await waitForState(zk, 'connected');
    for (const h of held) expect(h.signal.aborted).toBe(true);
    await Promise.all(held.map((h) => h.release()));
    await new Promise((r) => setTimeout(r, 200));
    expect(budget.inUse).toBe(0);
  });

  it('still watches new locks after 1,000 locks were lost with a session', async () => {
    const { lock, zk, backend } = await side();
    const budget = budgetOf(backend);
    const held = await Promise.all(Array.from({ length: budget.max }, (_, i) => lock.acquire(`many-${i}`)));
    await expireSession(sharedConnectString(), zk);
    await waitForState(zk, 'connected');
    await Promise.all(held.map((h) => h.release()));
    const calls = recordCalls(zk);
    const fresh = await lock.acquire('fresh');
    const atAcquire = calls.splice(0);
    await fresh.release();
    expect(atAcquire).toEqual(['create', 'getData']); // the watch read sent behind the create
    expect(calls).toEqual(['remove']); // watched: the release deletes without reading
  });
});
