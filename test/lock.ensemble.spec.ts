import { LockConflictError, LockService } from 'nestjs-zookeeper-lock';
import { cleanup, listTree, newService, startEnsemble, TestEnsemble, uniqueNamespace } from './support/zookeeper';
import { newLockService } from './support/locks';

/** The lock on a 3-node ensemble (loopback, forceSync=no), with the leader killed mid-way. */
describe('LockService on a 3-node ensemble', () => {
  let ensemble: TestEnsemble;
  beforeAll(async () => {
    ensemble = await startEnsemble();
  });
  afterAll(cleanup);

  it('keeps held locks and mutual exclusion when the leader is killed, and serves new locks after election', async () => {
    const namespace = uniqueNamespace('ensemble');
    const options = { connectionString: ensemble.connectString, namespace, sessionTimeout: 10_000, operationTimeout: 3_000 };
    const a = newLockService(await newService(options));
    const bZk = await newService(options);
    const b = newLockService(bZk);

    const held = await a.acquire('account-1');
    await expect(b.acquire('account-1')).rejects.toBeInstanceOf(LockConflictError);
    const waiter = b.acquire('account-1', { wait: 30_000 });

    const leader = await ensemble.leader();
    expect(leader).toBeDefined();
    await leader!.kill();
    await ensemble.waitQuorum();

    // Locks taken and contended right through the election: each outcome is a lock or a clean error.
    const inside = new Map<number, number>();
    let overlaps = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).withLock(
          `during-${i % 4}`,
          async () => {
            inside.set(i % 4, (inside.get(i % 4) ?? 0) + 1);
            if (inside.get(i % 4)! > 1) overlaps += 1;
            await new Promise((r) => setTimeout(r, 5));
            inside.set(i % 4, inside.get(i % 4)! - 1);
          },
          { wait: 20_000 },
        ),
      ),
    );
    expect(overlaps).toBe(0);
    const failures = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    for (const f of failures) expect(['LOCK_UNAVAILABLE', 'LOCK_CONFLICT']).toContain(f.reason.code);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);

    // The session survived the election: the held lock is still ours and still excludes others.
    expect(held.signal.aborted).toBe(false);
    await expect(b.acquire('account-1')).rejects.toBeInstanceOf(LockConflictError);
    await held.release();
    const next = await waiter;
    await next.release();
    const leftovers = (await listTree(bZk, namespace)).filter((p) => p.split('/').length > 3);
    expect(leftovers).toEqual([]);
  });
});
