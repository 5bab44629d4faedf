/**
 * LockService's side of the LockBackend contract, on the in-memory backend (no ZooKeeper claim here):
 * a release that finds its grant gone is a lost lock, and waits too long for a Node timer wait forever.
 */
import { LockEvent, LockLostError, LockService, LOCK_LOST_WARNING } from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, InMemoryLockStore } from 'nestjs-zookeeper-lock/testing';
import { GrantGoneError, LockRequest } from '../lib/lock/lock-backend';

/** The codes of the process warnings the library emits while `fn` runs. */
async function collectWarnings(fn: () => Promise<void>): Promise<unknown[]> {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    await fn();
    return spy.mock.calls.map(([, options]) => (options as { code?: string } | undefined)?.code);
  } finally {
    spy.mockRestore();
  }
}

/**
 * The delays of the timers set while `fn` runs. (Node emits TimeoutOverflowWarning for a delay above
 * 2^31-1 ms on its own process object, which a Jest test cannot listen to: the delay is what we check.)
 */
async function collectTimerDelays(fn: () => Promise<void>): Promise<number[]> {
  const spy = jest.spyOn(global, 'setTimeout');
  try {
    await fn();
    return spy.mock.calls.map(([, delay]) => Number(delay ?? 0));
  } finally {
    spy.mockRestore();
  }
}

/** Resolves after `ms`: only to show that something did NOT happen meanwhile. */
const elapse = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('LockService: a release that finds its node taken by another owner (GrantGoneError)', () => {
  class GoneAtRelease extends InMemoryLockBackend {
    override async release(grant: Parameters<InMemoryLockBackend['release']>[0]): Promise<void> {
      await super.release(grant); // freed here, as if someone else had deleted it

      throw new GrantGoneError('its node now belongs to someone else');
    }
  }

  it('marks the lock lost (signal, lost event, warning log) and resolves the release; withLock warns (lockLostWarning)', async () => {
    const events: LockEvent[] = [];
    const locks = new LockService(new GoneAtRelease(), { onLockEvent: (event) => events.push(event), lockLostWarning: true });
    let handle!: { signal: AbortSignal };
    const warnings = await collectWarnings(async () => {
      const result = await locks.withLock('gone', (lock) => {
        handle = lock;
        return 'done';
      });
      expect(result).toBe('done');
    });
    expect(handle.signal.aborted).toBe(true);
    expect(handle.signal.reason).toBeInstanceOf(LockLostError);
    expect((handle.signal.reason as Error).message).toMatch(/no longer ours.*belongs to someone else/);
    expect(events.filter((e) => e.type === 'lost')).toEqual([expect.objectContaining({ type: 'lost', ids: ['gone'] })]);
    expect(events.filter((e) => e.type === 'released')).toEqual([]);
    expect(warnings).toContain(LOCK_LOST_WARNING);

    const direct = await locks.acquire('gone-2');
    await expect(direct.release()).resolves.toBeUndefined();
    expect(direct.signal.reason).toBeInstanceOf(LockLostError);
    expect(locks.heldCount).toBe(0);
  });

  it('emits no process warning for the same loss without lockLostWarning (the signal and the lost event carry it)', async () => {
    const events: LockEvent[] = [];
    const locks = new LockService(new GoneAtRelease(), { onLockEvent: (event) => events.push(event) });
    let handle!: { signal: AbortSignal };
    const warnings = await collectWarnings(async () => {
      await locks.withLock('gone', (lock) => {
        handle = lock;
      });
    });
    expect(handle.signal.reason).toBeInstanceOf(LockLostError);
    expect(events.filter((e) => e.type === 'lost')).toHaveLength(1);
    expect(warnings).toEqual([]);
    expect(() => new LockService(new GoneAtRelease(), { lockLostWarning: 'yes' as never })).toThrow(/lockLostWarning/);
  });
});

describe('waits longer than a Node timer can wait (2^31-1 ms)', () => {
  it('LockService treats them as Infinity', async () => {
    const seen: number[] = [];
    class Recording extends InMemoryLockBackend {
      override acquire(request: LockRequest) {
        seen.push(request.wait);
        return super.acquire(request);
      }
    }
    const locks = new LockService(new Recording());
    await (await locks.acquire('a', { wait: 2 ** 31 })).release();
    await (await locks.acquire('a', { wait: Number.MAX_SAFE_INTEGER })).release();
    await (await locks.acquire('a', { wait: 2 ** 31 - 1 })).release();
    expect(seen).toEqual([Infinity, Infinity, 2 ** 31 - 1]);
  });

  it.each([
    ['LockService', (backend: InMemoryLockBackend, signal: AbortSignal) => new LockService(backend).acquire('long', { wait: Number.MAX_SAFE_INTEGER, signal })],
    ['InMemoryLockBackend', (backend: InMemoryLockBackend, signal: AbortSignal) => backend.acquire({ ids: ['long'], scope: 'default', wait: Number.MAX_SAFE_INTEGER, signal })],
  ])('%s keeps waiting (no conflict after 1 ms, no timer that overflows) until aborted', async (_name, acquire) => {
    const backend = new InMemoryLockBackend(new InMemoryLockStore());
    const free = backend.holdElsewhere('long');
    const controller = new AbortController();
    let outcome: unknown = 'pending';
    const delays = await collectTimerDelays(async () => {
      const waiting = acquire(backend, controller.signal).then(
        (held) => (outcome = held),
        (error) => (outcome = error),
      );
      await elapse(50);
      expect(outcome).toBe('pending');
      controller.abort(new Error('gave up'));
      await waiting;
    });
    expect(outcome).toMatchObject({ message: 'gave up' });
    expect(delays.filter((ms) => ms > 2 ** 31 - 1)).toEqual([]); // no timer that would overflow to 1 ms
    free();
  });
});

describe('InMemoryLockBackend.expireSession, as ZooKeeper does it', () => {
  it("re-queues the expired owner's waiter at the back under the new session: it gets the lock after the others, live", async () => {
    const store = new InMemoryLockStore();
    const backendA = new InMemoryLockBackend(store);
    const a = new LockService(backendA);
    const b = new LockService(new InMemoryLockBackend(store));
    const held = await a.acquire('x');
    const order: string[] = [];
    const mine = a.acquire('x', { wait: 10_000 }).then((h) => (order.push('a'), h));
    await new Promise<void>((resolve) => setImmediate(resolve));
    const theirs = b.acquire('x', { wait: 10_000 }).then((h) => (order.push('b'), h));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(store.queues.get('["default","x"]')).toHaveLength(2);
    backendA.expireSession();
    expect(held.signal.aborted).toBe(true);
    const successor = await theirs;
    expect(store.queues.get('["default","x"]')).toHaveLength(1); // a's waiter, queued again behind b
    await successor.release();
    const requeued = await mine;
    expect(order).toEqual(['b', 'a']);
    expect(requeued.signal.aborted).toBe(false);
    backendA.expireSession(); // its grant is on the new session, which this ends: now it is lost
    expect(requeued.signal.aborted).toBe(true);
  });
});
