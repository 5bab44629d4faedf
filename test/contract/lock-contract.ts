/**
 * The behaviour every lock backend must have, written once and run against the real ZooKeeper backend
 * and against the in-memory one of ZookeeperLockTestingModule (test/lock.contract.spec.ts): what users'
 * unit tests see on the in-memory backend is what production does.
 */
import { randomBytes } from 'node:crypto';
import { filter, firstValueFrom } from 'rxjs';
import {
  InvalidLockIdError,
  Leadership,
  LockInfo,
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
  /** The ownerName of `a` and of `b`. */
  ownerOfA: string;
  ownerOfB: string;
  /** Resolves once `count` callers wait in the queue of `id` (scope `default`). */
  queued(id: string, count: number): Promise<void>;
  /**
   * Resolves once a waiting exclusive caller of `id` (scope `default`) turns fail-fast shared callers away:
   * at once in memory (its place in the queue does it); on ZooKeeper once its gate is in the group, a round
   * trip or two after its place in the queue.
   */
  closedToSharers(id: string): Promise<void>;
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

    it('inspect reports a free lock, then its holder (owner, time, fencing token) and the callers waiting', async () => {
      const id = uniqueId();
      expect(await b.inspect(id)).toEqual({ id, scope: 'default', mode: 'free', holders: [], waiting: 0 });
      const before = Date.now();
      const held = await a.acquire(id);
      const token = await held.fencingToken();
      const waiter = b.acquire(id, { wait: 20_000 });
      await waitingFor(b, id, 1);
      const info = await b.inspect(id);
      expect(info).toEqual({
        id,
        scope: 'default',
        mode: 'exclusive',
        holders: [{ owner: world.ownerOfA, since: expect.any(Date), fencingToken: token }],
        waiting: 1,
      });
      // A conflict reads nothing more, so it cannot name the holder (the 409 body shows no owner).
      const conflict = (await b.acquire(id).catch((e: Error) => e)) as Error;
      expect(conflict).toBeInstanceOf(LockConflictError);
      expect(JSON.stringify({ ...conflict, message: conflict.message })).not.toContain(world.ownerOfA);
      // Same machine, same clock: taken between `before` and now (1 s of slack for the clock's resolution).
      expect(info.holders[0].since.getTime()).toBeGreaterThanOrEqual(before - 1_000);
      expect(info.holders[0].since.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
      await held.release();
      const next = await waiter;
      // A queued holder keeps its place in the queue while it holds: that place is not a caller waiting.
      expect(await a.inspect(id)).toMatchObject({ mode: 'exclusive', holders: [{ owner: world.ownerOfB, fencingToken: await next.fencingToken() }], waiting: 0 });
      await next.release();
      expect(await a.inspect(id)).toEqual({ id, scope: 'default', mode: 'free', holders: [], waiting: 0 });
      await expect(a.inspect(['x', 'y'] as never)).rejects.toBeInstanceOf(InvalidLockIdError);
      await expect(a.inspect('')).rejects.toBeInstanceOf(InvalidLockIdError);
    });

    it('lists the held locks of a scope, and of every scope, as a snapshot', async () => {
      const scope = `list-${uniqueId()}`;
      const [x, y] = [uniqueId(), uniqueId()];
      const handles = [await a.acquire(x, { scope }), await b.acquire(y, { scope }), await a.acquire(y, { scope: `${scope}-2` })];
      const free = await b.acquire(uniqueId(), { scope });
      await free.release(); // freed: not listed
      const listed = await b.list({ scope });
      expect(listed.map((i) => [i.id, i.mode, i.holders.map((h) => h.owner), i.waiting])).toEqual(
        [
          [x, 'exclusive', [world.ownerOfA], 0],
          [y, 'exclusive', [world.ownerOfB], 0],
        ].sort((p, q) => byScopeThenId({ scope, id: p[0] as string }, { scope, id: q[0] as string })),
      );
      expect(listed[0].holders[0].fencingToken).toEqual(expect.any(BigInt));
      const everywhere = (await a.list()).map((i) => ({ scope: i.scope, id: i.id }));
      expect(everywhere).toEqual(
        [
          { scope, id: x },
          { scope, id: y },
          { scope: `${scope}-2`, id: y },
        ].sort(byScopeThenId),
      );
      await Promise.all(handles.map((h) => h.release()));
      expect(await a.list({ scope })).toEqual([]);
    });

    it('inspect shows the lock of an expired session free', async () => {
      const id = uniqueId();
      const held = await a.acquire(id);
      expect(await b.inspect(id)).toMatchObject({ mode: 'exclusive', holders: [{ owner: world.ownerOfA }] });
      await world.expireA();
      await whenLost(held);
      expect(await b.inspect(id)).toMatchObject({ mode: 'free', holders: [], waiting: 0 });
    });

    it('elects one leader; close() ends its term before the next instance leads', async () => {
      const id = uniqueId();
      const first = a.leader(id);
      expect(first.isLeader).toBe(false);
      expect(first.signal.aborted).toBe(true); // not leading yet: leader-only work must not run
      await becomes(first, true);
      expect(first.signal.aborted).toBe(false);
      const second = b.leader(id);
      await waitingFor(b, id, 1);
      expect(second.isLeader).toBe(false);
      expect(await b.inspect(id)).toMatchObject({ mode: 'exclusive', holders: [{ owner: world.ownerOfA }], waiting: 1 });
      const order: string[] = [];
      first.signal.addEventListener('abort', () => order.push('first term ended'));
      second.changes$.subscribe((leads) => order.push(`second ${leads}`));
      const firstDone = completion(first);
      const token = await first.fencingToken();
      await first.close();
      await becomes(second, true);
      expect(order).toEqual(['first term ended', 'second true']);
      expect(first.isLeader).toBe(false);
      expect(first.signal.reason).toBeInstanceOf(LockLostError);
      expect(firstDone.done).toBe(true);
      expect(await second.fencingToken()).toBeGreaterThan(token);
      await expect(first.fencingToken()).rejects.toBeInstanceOf(LockLostError);
      expect(await a.inspect(id)).toMatchObject({ holders: [{ owner: world.ownerOfB }], waiting: 0 });
      await second.close();
      await second.close(); // idempotent
      expect(await a.inspect(id)).toEqual({ id, scope: 'default', mode: 'free', holders: [], waiting: 0 });
    });

    it('ends the term when the session is lost, hands over, and rejoins on the new session by itself', async () => {
      const id = uniqueId();
      const first = a.leader(id);
      await becomes(first, true);
      const second = b.leader(id);
      await waitingFor(b, id, 1);
      const term = first.signal;
      const changes: boolean[] = [];
      first.changes$.subscribe((leads) => changes.push(leads));
      await world.expireA();
      await whenLost({ signal: term });
      expect(term.reason).toBeInstanceOf(LockLostError);
      await becomes(second, true);
      await waitingFor(b, id, 1); // the first one queued again, on its new session
      expect(changes).toEqual([false]);
      await second.close();
      await becomes(first, true);
      expect(changes).toEqual([false, true]);
      expect(first.signal.aborted).toBe(false);
      await first.close();
      expect(await b.inspect(id)).toMatchObject({ mode: 'free', waiting: 0 });
    });

    it('close() during a pending join leaves the queue and never leads', async () => {
      const id = uniqueId();
      const held = await b.acquire(id);
      const waiting = a.leader(id);
      const changes: boolean[] = [];
      waiting.changes$.subscribe((leads) => changes.push(leads));
      await waitingFor(b, id, 1);
      await waiting.close();
      expect(await b.inspect(id)).toMatchObject({ holders: [{ owner: world.ownerOfB }], waiting: 0 });
      await held.release();
      expect(await b.inspect(id)).toMatchObject({ mode: 'free', waiting: 0 });
      expect(changes).toEqual([]);
      expect(waiting.isLeader).toBe(false);
    });

    it('at shutdown a leader steps down at once and does not rejoin; no new leadership starts', async () => {
      const id = uniqueId();
      const first = a.leader(id);
      await becomes(first, true);
      const second = b.leader(id);
      await waitingFor(b, id, 1);
      const done = completion(first);
      const closing = a.beforeApplicationShutdown();
      expect(first.signal.aborted).toBe(true); // at the start of the shutdown, not after the grace period
      expect(first.isLeader).toBe(false);
      expect(() => a.leader(uniqueId())).toThrow(LockUnavailableError);
      await becomes(second, true);
      await closing;
      await world.closeA();
      expect(done.done).toBe(true);
      expect(await b.inspect(id)).toMatchObject({ holders: [{ owner: world.ownerOfB }], waiting: 0 });
      await second.close();
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

/** Resolves once `inspect` counts `count` callers waiting for `id` (polled: inspect is a read, not a watch). */
async function waitingFor(service: LockService, id: string, count: number): Promise<void> {
  for (const started = Date.now(); ; ) {
    if ((await service.inspect(id)).waiting >= count) return;
    if (Date.now() - started > 20_000) throw new Error(`${count} waiters for ${id} not seen within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves when the leadership's next change is `value` (or at once if it is already in that state). */
function becomes(leadership: Leadership, value: boolean): Promise<unknown> {
  if (leadership.isLeader === value) return Promise.resolve();
  return firstValueFrom(leadership.changes$.pipe(filter((v) => v === value)));
}

function completion(leadership: Leadership): { done: boolean } {
  const state = { done: false };
  leadership.changes$.subscribe({ complete: () => (state.done = true) });
  return state;
}

function byScopeThenId(x: Pick<LockInfo, 'scope' | 'id'>, y: Pick<LockInfo, 'scope' | 'id'>): number {
  return x.scope < y.scope ? -1 : x.scope > y.scope ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}

function whenLost(handle: { signal: AbortSignal }): Promise<void> {
  if (handle.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => handle.signal.addEventListener('abort', () => resolve(), { once: true }));
}

export function uniqueId(): string {
  return `id-${randomBytes(4).toString('hex')}`;
}
