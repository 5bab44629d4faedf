/**
 * Shared (read/write) locks and concurrency limits (issue 13 §1, §2): the behaviour both backends must
 * have, run against ZooKeeper and the in-memory backend (test/lock.contract.spec.ts).
 */
import { InvalidLockOptionsError, LockConflictError, LockService } from 'nestjs-zookeeper-lock';
import type { ContractWorld } from './lock-contract';
import { uniqueId } from './lock-contract';

export function describeFamilyContract(backend: string, makeWorld: () => Promise<ContractWorld>): void {
  describe(`lock family contract (shared, limit): ${backend}`, () => {
    let world: ContractWorld;
    let a: LockService;
    let b: LockService;
    beforeEach(async () => {
      world = await makeWorld();
      ({ a, b } = world);
    });
    afterEach(() => world.dispose());

    it('lets shared holders of several instances hold together, and excludes exclusive holders both ways', async () => {
      const id = uniqueId();
      const one = await a.acquire(id, { shared: true });
      const two = await b.acquire(id, { shared: true });
      const three = await b.acquire(id, { shared: true }); // another shared caller of the same instance
      await expect(a.acquire(id)).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [id], waited: 0 });
      await Promise.all([one.release(), two.release()]);
      await expect(b.acquire(id)).rejects.toBeInstanceOf(LockConflictError); // `three` still reads
      await three.release();
      const writer = await a.acquire(id);
      await expect(b.acquire(id, { shared: true })).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [id] });
      await writer.release();
      const after = await b.acquire(id, { shared: true });
      await after.release();
    });

    it('waits first come first served across kinds: a shared caller behind a waiting exclusive one waits behind it', async () => {
      const id = uniqueId();
      const reader = await b.acquire(id, { shared: true });
      const order: string[] = [];
      const writer = a.withLock(id, () => void order.push('writer'), { wait: 20_000 });
      await waitingFor(b, id, 1);
      await world.closedToSharers(id);
      // The exclusive caller waits: fail-fast shared callers are refused (it is never starved) ...
      await expect(b.acquire(id, { shared: true })).rejects.toBeInstanceOf(LockConflictError);
      // ... and waiting ones queue behind it.
      const late = b.withLock(id, () => void order.push('late reader'), { shared: true, wait: 20_000 });
      await waitingFor(b, id, 2);
      await reader.release();
      await Promise.all([writer, late]);
      expect(order).toEqual(['writer', 'late reader']);
    });

    it('refuses a fail-fast shared caller that comes after a waiting exclusive one also while that one is not first in the queue (behind a shared holder that waited)', async () => {
      const id = uniqueId();
      // A shared holder that waited for it: its place in the queue stays while it holds.
      const reader = await a.acquire(id, { shared: true, wait: 5_000 });
      const order: string[] = [];
      const writer = b.withLock(id, () => void order.push('writer'), { wait: 20_000 });
      await waitingFor(b, id, 1);
      await world.closedToSharers(id);
      await expect(a.acquire(id, { shared: true })).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [id], waited: 0 });
      await expect(b.acquire(id, { shared: true })).rejects.toBeInstanceOf(LockConflictError);
      // A waiting shared caller that comes after the writer queues behind it too.
      const late = a.withLock(id, () => void order.push('late reader'), { shared: true, wait: 20_000 });
      await waitingFor(b, id, 2);
      expect((await b.inspect(id)).holders).toHaveLength(1); // still only the first reader holds it
      await reader.release();
      await Promise.all([writer, late]);
      expect(order).toEqual(['writer', 'late reader']);
      expect((await a.inspect(id)).mode).toBe('free');
    });

    it('frees an id for an exclusive fail-fast caller at once when its last shared holder\'s session ends', async () => {
      const id = uniqueId();
      const lost = await a.acquire(id, { shared: true });
      await world.expireA();
      expect(lost.signal.aborted).toBe(true);
      const writer = await b.acquire(id); // nobody holds it: no conflict (no wait for a reaper)
      expect((await a.inspect(id)).mode).toBe('exclusive');
      await writer.release();
      await lost.release(); // harms no one
      expect((await a.inspect(id)).mode).toBe('free');
    });

    it('lets waiting shared callers in together once the exclusive holder is done', async () => {
      const id = uniqueId();
      const writer = await b.acquire(id);
      const readers = [a, b, a].map((service) => service.acquire(id, { shared: true, wait: 20_000 }));
      await waitingFor(a, id, 3);
      await writer.release();
      const held = await Promise.all(readers);
      expect((await a.inspect(id)).holders).toHaveLength(3);
      await Promise.all(held.map((h) => h.release()));
      expect((await a.inspect(id)).mode).toBe('free');
    });

    it('takes several ids shared all or none', async () => {
      const [x, y] = [uniqueId(), uniqueId()].sort();
      const held = await a.acquire(y);
      await expect(b.acquire([x, y], { shared: true })).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [y] });
      const alone = await a.acquire(x); // x was not left taken shared by the failed attempt
      await Promise.all([alone.release(), held.release()]);
      const both = await b.acquire([x, y], { shared: true });
      const reader = await a.acquire([x, y], { shared: true });
      await expect(a.acquire(x)).rejects.toBeInstanceOf(LockConflictError);
      await Promise.all([both.release(), reader.release()]);
    });

    it('nested: shared inside exclusive and shared inside shared join; exclusive inside shared is refused (no silent upgrade)', async () => {
      const id = uniqueId();
      await a.withLock(id, async () => {
        await a.withLock(id, async (inner) => expect(inner.signal.aborted).toBe(false), { shared: true });
      });
      await a.withLock(id, async () => {
        await a.withLock(id, () => undefined, { shared: true });
        await expect(a.withLock(id, () => undefined)).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [id] });
        // The refusal took nothing and let go of nothing: we still hold it shared, and others may read.
        const other = await b.acquire(id, { shared: true });
        await other.release();
        await expect(b.acquire(id)).rejects.toBeInstanceOf(LockConflictError);
      }, { shared: true });
      const after = await b.acquire(id); // all released
      await after.release();
    });

    it('gives every shared holder its own fencing token, larger for each new holder', async () => {
      const id = uniqueId();
      const one = await a.acquire(id, { shared: true });
      const two = await b.acquire(id, { shared: true });
      const [t1, t2] = [await one.fencingToken(), await two.fencingToken()];
      expect(t2).toBeGreaterThan(t1);
      await Promise.all([one.release(), two.release()]);
      const writer = await a.acquire(id);
      expect(await writer.fencingToken()).toBeGreaterThan(t2);
      await writer.release();
    });

    it('frees a shared holder\'s part when its session ends: a waiting exclusive caller gets the lock', async () => {
      const id = uniqueId();
      const lost = await a.acquire(id, { shared: true });
      const writer = b.acquire(id, { wait: 30_000 });
      await waitingFor(b, id, 1);
      await world.expireA();
      expect(lost.signal.aborted).toBe(true);
      const held = await writer;
      expect((await b.inspect(id)).mode).toBe('exclusive');
      await held.release();
      await lost.release(); // harms no one
    });

    it('inspect reports shared holders (owners, fencing tokens) and the callers waiting', async () => {
      const id = uniqueId();
      const one = await a.acquire(id, { shared: true });
      const two = await b.acquire(id, { shared: true });
      const writer = a.acquire(id, { wait: 20_000 });
      await waitingFor(a, id, 1);
      const info = await b.inspect(id);
      expect(info).toMatchObject({ id, scope: 'default', mode: 'shared', waiting: 1 });
      expect(info.holders.map((h) => h.owner)).toEqual([world.ownerOfA, world.ownerOfB]);
      expect(info.holders.map((h) => h.fencingToken)).toEqual([await one.fencingToken(), await two.fencingToken()]);
      expect((await a.list()).find((l) => l.id === id)).toMatchObject({ mode: 'shared' });
      await Promise.all([one.release(), two.release()]);
      await (await writer).release();
    });

    it('limit: at most `limit` holders at once across instances; the next one gets a conflict, or waits its turn', async () => {
      const id = uniqueId();
      const held = [await a.acquire(id, { limit: 3 }), await b.acquire(id, { limit: 3 }), await a.acquire(id, { limit: 3 })];
      await expect(b.acquire(id, { limit: 3 })).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [id], waited: 0 });
      const order: string[] = [];
      const fourth = b.acquire(id, { limit: 3, wait: 20_000 }).then((h) => (order.push('fourth'), h));
      await waitingFor(b, id, 1);
      const fifth = a.acquire(id, { limit: 3, wait: 20_000 }).then((h) => (order.push('fifth'), h));
      await waitingFor(b, id, 2);
      const info = await a.inspect(id);
      expect(info).toMatchObject({ mode: 'limited', waiting: 2 });
      expect(info.holders.map((h) => h.owner)).toEqual([world.ownerOfA, world.ownerOfB, world.ownerOfA]);
      await held[1].release();
      const next = await fourth;
      expect(order).toEqual(['fourth']);
      await held[0].release();
      const last = await fifth;
      expect(order).toEqual(['fourth', 'fifth']);
      await Promise.all([held[2].release(), next.release(), last.release()]);
      expect((await a.inspect(id)).mode).toBe('free');
    });

    it('limit: callers who disagree get the smallest limit among holders and those ahead, never more holders', async () => {
      const id = uniqueId();
      const strict = await a.acquire(id, { limit: 1 });
      await expect(b.acquire(id, { limit: 5 })).rejects.toBeInstanceOf(LockConflictError); // 1 holder is all limit 1 allows
      await strict.release();
      const loose = await a.acquire(id, { limit: 3 });
      await expect(b.acquire(id, { limit: 1 })).rejects.toBeInstanceOf(LockConflictError); // its own limit: 1 is there already
      const second = await b.acquire(id, { limit: 3 });
      await Promise.all([loose.release(), second.release()]);
    });

    it('limit: a limited lock is a lock of its own, apart from the exclusive lock of the same id', async () => {
      const id = uniqueId();
      const exclusive = await a.acquire(id);
      const limited = await b.acquire(id, { limit: 1 });
      await expect(a.acquire(id, { limit: 1 })).rejects.toBeInstanceOf(LockConflictError);
      await Promise.all([exclusive.release(), limited.release()]);
    });

    it('limit: a holder\'s slot frees when its session ends', async () => {
      const id = uniqueId();
      const lost = await a.acquire(id, { limit: 1 });
      const waiting = b.acquire(id, { limit: 1, wait: 30_000 });
      await waitingFor(b, id, 1);
      await world.expireA();
      expect(lost.signal.aborted).toBe(true);
      const held = await waiting;
      await held.release();
    });

    it('limit: a waiter that gives up (timeout, abort) leaves nothing taken', async () => {
      const id = uniqueId();
      const held = await a.acquire(id, { limit: 1 });
      await expect(b.acquire(id, { limit: 1, wait: 300 })).rejects.toMatchObject({ code: 'LOCK_CONFLICT', waited: 300 });
      const controller = new AbortController();
      const aborted = b.acquire(id, { limit: 1, wait: 20_000, signal: controller.signal }).catch((e) => e);
      await waitingFor(b, id, 1);
      controller.abort(new Error('gone'));
      expect(await aborted).toMatchObject({ message: 'gone' });
      await held.release();
      expect((await a.inspect(id)).mode).toBe('free');
      const next = await b.acquire(id, { limit: 1 });
      await next.release();
    });

    it('refuses bad shared/limit options with InvalidLockOptionsError before touching anything', async () => {
      const id = uniqueId();
      for (const options of [{ shared: true, limit: 2 }, { limit: 0 }, { limit: 1.5 }, { limit: -1 }, { limit: '3' }, { shared: 'yes' }]) {
        await expect(a.acquire(id, options as never)).rejects.toBeInstanceOf(InvalidLockOptionsError);
      }
      expect((await a.inspect(id)).mode).toBe('free');
    });
  });
}

/** Resolves once `inspect` counts `count` callers waiting for `id` (polled: inspect is a read, not a watch). */
async function waitingFor(service: LockService, id: string, count: number): Promise<void> {
  for (const started = Date.now(); ; ) {
    if ((await service.inspect(id)).waiting >= count) return;
    if (Date.now() - started > 20_000) throw new Error(`${count} waiters for ${id} not seen within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
