/**
 * The behaviour every lock backend must have, written once and run against the real ZooKeeper backend
 * and against the in-memory one of ZookeeperLockTestingModule (test/lock.contract.spec.ts): what users'
 * unit tests see on the in-memory backend is what production does.
 */
import { randomBytes } from 'node:crypto';
import {
  InvalidLockIdError,
  LockConflictError,
  LockEvent,
  LockHandle,
  LockLostError,
  LockService,
  LockUnavailableError,
} from 'nestjs-zookeeper-lock';

/** Two application instances that share one lock store (a ZooKeeper ensemble, or an in-memory store). */
export interface ContractWorld {
  a: LockService;
  b: LockService;
  /** Every event of `a`'s onLockEvent hook, in order. */
  eventsOfA: LockEvent[];
  /** Ends `a`'s session: what it holds is lost. Resolves once `a` has noticed and has a new session. */
  expireA(): Promise<void>;
  /** Ends `a`'s session for good, as the end of an application shutdown does (after `a.beforeApplicationShutdown()`). */
  closeA(): Promise<void>;
  /** Resolves once `count` callers wait in the queue of `id` (scope `default`). */
  queued(id: string, count: number): Promise<void>;
  dispose(): Promise<void>;
}

export function describeLockContract(backend: string, makeWorld: () => Promise<ContractWorld>): void {
  describe(`lock contract: ${backend}`, () => {
    let world: ContractWorld;
    let a: LockService;
    let b: LockService;
    beforeEach(async () => {
      world = await makeWorld();
      ({ a, b } = world);
    });
    afterEach(() => world.dispose());

    it('fails fast with LockConflictError while another instance holds the id, and frees it on release', async () => {
      const id = uniqueId();
      const held = await a.acquire(id);
      const conflict = await b.acquire(id).catch((e) => e);
      expect(conflict).toBeInstanceOf(LockConflictError);
      expect(conflict).toMatchObject({ code: 'LOCK_CONFLICT', ids: [id], scope: 'default', waited: 0 });
      await held.release();
      await held.release(); // idempotent
      const next = await b.acquire(id);
      await next.release();
    });

    it('takes several ids all or none', async () => {
      const [x, y] = [uniqueId(), uniqueId()];
      const held = await a.acquire(y);
      await expect(b.acquire([x, y])).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [y] });
      const alone = await a.acquire(x); // x was not left taken by the failed attempt
      await Promise.all([alone.release(), held.release()]);
      const both = await b.acquire([x, y]);
      await expect(a.acquire(x)).rejects.toBeInstanceOf(LockConflictError);
      await both.release();
    });

    it('keeps scopes apart: the same id in two scopes is two locks', async () => {
      const id = uniqueId();
      const one = await a.acquire(id, { scope: 'orders' });
      const other = await b.acquire(id, { scope: 'invoices' });
      await expect(b.acquire(id, { scope: 'orders' })).rejects.toBeInstanceOf(LockConflictError);
      await Promise.all([one.release(), other.release()]);
    });

    it('queues waiters first come first served and hands the lock on at release', async () => {
      const id = uniqueId();
      const held = await b.acquire(id);
      const order: string[] = [];
      const first = a.withLock(id, () => void order.push('first'), { wait: 20_000 });
      await world.queued(id, 1);
      const second = a.withLock(id, () => void order.push('second'), { wait: 20_000 });
      await world.queued(id, 2);
      expect(order).toEqual([]);
      await held.release();
      await Promise.all([first, second]);
      expect(order).toEqual(['first', 'second']);
    });

    it('gives up waiting after `wait` ms with LockConflictError, leaving nothing taken', async () => {
      const id = uniqueId();
      const held = await b.acquire(id);
      const error = await a.acquire(id, { wait: 300 }).catch((e) => e);
      expect(error).toBeInstanceOf(LockConflictError);
      expect(error).toMatchObject({ ids: [id], waited: 300 });
      await held.release();
      const after = await b.acquire(id); // the gave-up waiter did not take it on release
      await after.release();
    });

    it('stops waiting when the signal aborts, with the signal\'s reason', async () => {
      const id = uniqueId();
      const held = await b.acquire(id);
      const controller = new AbortController();
      const waiting = a.acquire(id, { wait: 20_000, signal: controller.signal }).catch((e) => e);
      await world.queued(id, 1);
      controller.abort(new Error('caller gave up'));
      expect(await waiting).toMatchObject({ message: 'caller gave up' });
      await held.release();
      const after = await b.acquire(id);
      await after.release();
    });

    it('gives every new holder a larger fencing token', async () => {
      const id = uniqueId();
      const first = await a.acquire(id);
      const t1 = await first.fencingToken();
      expect(await first.fencingToken()).toBe(t1);
      await first.release();
      const second = await b.acquire(id);
      const t2 = await second.fencingToken();
      await second.release();
      expect(typeof t1).toBe('bigint');
      expect(t2).toBeGreaterThan(t1);
    });

    it('lets nested calls in one withLock join the held lock instead of conflicting', async () => {
      const id = uniqueId();
      const result = await a.withLock(id, async (outer) =>
        a.withLock([id, `${id}-more`], async (inner) => {
          expect(inner.signal.aborted).toBe(false);
          return outer.ids.concat(inner.ids);
        }),
      );
      expect(result).toEqual([id, id, `${id}-more`]);
      const again = await b.acquire([id, `${id}-more`]); // all released
      await again.release();
    });

    it('refuses ids that cannot name a lock', async () => {
      for (const bad of ['', 42, null, undefined, ['ok', ''], 'x'.repeat(5000)]) {
        await expect(a.acquire(bad as string)).rejects.toBeInstanceOf(InvalidLockIdError);
      }
    });

    it('reports session loss through the signal, frees the lock for others, and a late release harms no one', async () => {
      const id = uniqueId();
      const held: LockHandle = await a.acquire(id);
      const aborted = new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
      await world.expireA();
      await aborted;
      expect(held.signal.reason).toBeInstanceOf(LockLostError);
      await expect(held.fencingToken()).rejects.toBeInstanceOf(LockLostError);
      const successor = await b.acquire(id);
      await held.release(); // late: must not free the successor's lock
      await expect(a.acquire(id)).rejects.toBeInstanceOf(LockConflictError);
      await expect(successor.fencingToken()).resolves.toEqual(expect.any(BigInt));
      await successor.release();
    });

    it("never hands an expired owner's lock to a waiter of that same owner", async () => {
      const id = uniqueId();
      const held = await a.acquire(id);
      const mine = a.acquire(id, { wait: 20_000 }).then(
        (handle) => ({ handle }),
        (error: unknown) => ({ error }),
      );
      await world.queued(id, 1);
      const theirs = b.acquire(id, { wait: 20_000 });
      await world.queued(id, 2);
      await world.expireA();
      await whenLost(held);
      // The next in line that is not the expired owner gets it; the expired owner's waiter does not.
      const successor = await theirs;
      expect(successor.signal.aborted).toBe(false);
      await expect(a.acquire(id)).rejects.toBeInstanceOf(LockConflictError);
      await successor.release();
      // The waiter queued again on the new session (at the back) and gets it now, with a live signal.
      const outcome = await mine;
      if (!('handle' in outcome)) throw outcome.error;
      expect(outcome.handle.signal.aborted).toBe(false);
      await expect(b.acquire(id)).rejects.toBeInstanceOf(LockConflictError);
      await outcome.handle.release();
      await (await b.acquire(id)).release();
    });

    it('at shutdown refuses new locks, aborts what is held after the grace period, and frees it for others', async () => {
      const id = uniqueId();
      const held = await a.acquire(id);
      const closing = a.beforeApplicationShutdown();
      await expect(a.acquire(`${id}-new`)).rejects.toBeInstanceOf(LockUnavailableError);
      expect(held.signal.aborted).toBe(false); // held locks get the grace period
      await closing;
      expect(held.signal.reason).toBeInstanceOf(LockLostError);
      await world.closeA();
      const next = await b.acquire(id, { wait: 20_000 }); // freed with the session, not orphaned
      await next.release();
    });

    it('reports acquired, conflict, waited, released and lost through onLockEvent', async () => {
      const id = uniqueId();
      const events = world.eventsOfA;
      const held = await a.acquire(id);
      await expect(a.acquire(`${id}-x`).then((h) => h.release())).resolves.toBeUndefined();
      const blocker = await b.acquire(`${id}-b`);
      await expect(a.acquire(`${id}-b`)).rejects.toBeInstanceOf(LockConflictError);
      const waiting = a.acquire(`${id}-b`, { wait: 20_000 });
      await world.queued(`${id}-b`, 1);
      await blocker.release();
      const waited = await waiting;
      await waited.release();
      await held.release();
      const mine = events.filter((e) => e.type !== 'session');
      expect(mine.map((e) => [e.type, 'ids' in e ? e.ids : []])).toEqual([
        ['acquired', [id]],
        ['acquired', [`${id}-x`]],
        ['released', [`${id}-x`]],
        ['conflict', [`${id}-b`]],
        ['acquired', [`${id}-b`]],
        ['released', [`${id}-b`]],
        ['released', [id]],
      ]);
      expect(mine[0]).toMatchObject({ type: 'acquired', scope: 'default', queued: false, waitedMs: expect.any(Number) });
      expect(mine[4]).toMatchObject({ type: 'acquired', queued: true });
      expect((mine[4] as { waitedMs: number }).waitedMs).toBeGreaterThan(0);
      expect(mine[6]).toMatchObject({ type: 'released', heldMs: expect.any(Number) });

      const lost = await a.acquire(`${id}-lost`);
      await world.expireA();
      await new Promise((resolve) => (lost.signal.aborted ? resolve(undefined) : lost.signal.addEventListener('abort', resolve)));
      expect(events.filter((e) => e.type === 'lost')).toEqual([
        expect.objectContaining({ type: 'lost', ids: [`${id}-lost`], heldMs: expect.any(Number), reason: expect.any(String) }),
      ]);
    });
  });
}

function whenLost(handle: { signal: AbortSignal }): Promise<void> {
  if (handle.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => handle.signal.addEventListener('abort', () => resolve(), { once: true }));
}

export function uniqueId(): string {
  return `id-${randomBytes(4).toString('hex')}`;
}
