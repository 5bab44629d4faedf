import { Logger } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  currentLock,
  InvalidLockIdError,
  InvalidLockOptionsError,
  LockConflictError,
  LockHandle,
  LockLostError,
  LockService,
  LockUnavailableError,
  ZookeeperLockModuleOptions,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { newLockService, recordCalls } from './support/locks';
import { joinableHandles, lockScope } from '../lib/lock/lock-scope';
import { ClientFaults, CODES } from './support/client-faults';
import { HOSTILE_IDS } from './support/hostile-ids';
import {
  cleanup,
  expireSession,
  listTree,
  newService,
  sharedConnectString,
  startServer,
  uniqueNamespace,
  waitForChildren,
  waitForGone,
  waitForState,
  watchesLeft,
} from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('lock');
});

async function locks(options: Partial<ZookeeperLockModuleOptions> = {}): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace, ...options });
  return { lock: newLockService(zk), zk };
}

const scopeDir = (scope = 'default') => `${namespace}/${scope}`;

/** Resolves once the handle's signal is aborted (at once if it already is). */
function whenLost(handle: { signal: AbortSignal }): Promise<void> {
  if (handle.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => handle.signal.addEventListener('abort', () => resolve(), { once: true }));
}

describe('LockService: fail-fast', () => {
  it('lets exactly one of two sessions racing for an id win, and frees it on release', async () => {
    const a = await locks();
    const b = await locks();
    await a.lock.withLock('warm-up', () => undefined); // parents exist, so both race on the same create
    const attempts = [a, b, a, b, a, b, a, b].map((s) => s.lock.acquire('race').then((h) => h, (e) => e));
    const outcomes = await Promise.all(attempts);
    const winners = outcomes.filter((o) => !(o instanceof Error));
    const conflicts = outcomes.filter((o) => o instanceof LockConflictError);
    expect(winners).toHaveLength(1);
    expect(conflicts).toHaveLength(7);
    expect(conflicts[0]).toMatchObject({ code: 'LOCK_CONFLICT', ids: ['race'], scope: 'default', waited: 0 });
    await winners[0].release();
    await winners[0].release(); // idempotent
    await (await b.lock.acquire('race')).release();
  });

  it('withLock releases on return and on throw, and returns the result', async () => {
    const { lock } = await locks();
    expect(await lock.withLock('w', () => 42)).toBe(42);
    await expect(lock.withLock('w', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await lock.withLock('w', async () => 'again')).toBe('again');
    expect(lock.heldCount).toBe(0);
  });

  it('costs one write to take, and one read plus one write to release, with no per-call parent checks', async () => {
    const { lock, zk } = await locks();
    await lock.withLock('warm', () => undefined);
    const calls = recordCalls(zk);
    await lock.withLock('fast', () => undefined);
    // The release reads the node first: it deletes only a node that is provably ours (token and owner).
    expect(calls).toEqual(['create', 'getData', 'remove']);
    calls.length = 0;
    await lock.withLock(['x', 'y', 'z'], () => undefined);
    expect(calls).toEqual(['multi', 'getData', 'getData', 'getData', 'multi']); // the reads are pipelined
  });

  it('takes several ids all or none, in one round trip', async () => {
    const a = await locks();
    const b = await locks();
    const held = await a.lock.acquire('b', { scope: 'acct' });
    const error = await b.lock.acquire(['a', 'b', 'c'], { scope: 'acct' }).catch((e) => e);
    expect(error).toBeInstanceOf(LockConflictError);
    expect(error.ids).toEqual(['b']);
    // nothing of the failed attempt is held: 'a' and 'c' are free
    await (await a.lock.acquire(['a', 'c'], { scope: 'acct' })).release();
    await held.release();
    const all = await b.lock.acquire(['c', 'a', 'b'], { scope: 'acct' });
    expect(all.ids).toEqual(['c', 'a', 'b']);
    await expect(a.lock.acquire('a', { scope: 'acct' })).rejects.toBeInstanceOf(LockConflictError);
    await all.release();
    expect(await listTree(a.zk, scopeDir('acct'))).toEqual([]);
  });

  it('keeps scopes apart', async () => {
    const { lock } = await locks();
    const one = await lock.acquire('42', { scope: 'orders' });
    const two = await lock.acquire('42', { scope: 'invoices' });
    await expect(lock.acquire('42', { scope: 'orders' })).rejects.toBeInstanceOf(LockConflictError);
    await Promise.all([one.release(), two.release()]);
  });
});

describe('LockService: waiting', () => {
  it('serves a waiter when the holder releases, and keeps fail-fast callers out while held', async () => {
    const a = await locks();
    const b = await locks();
    const c = await locks();
    const first = await a.lock.acquire('shared');
    const waiting = b.lock.acquire('shared', { wait: 10_000 });
    await waitForChildren(a.zk, `${scopeDir()}/shared%q`, 1);
    await expect(c.lock.acquire('shared')).rejects.toBeInstanceOf(LockConflictError);
    await first.release();
    const second = await waiting;
    await expect(c.lock.acquire('shared')).rejects.toBeInstanceOf(LockConflictError);
    await expect(a.lock.acquire('shared')).rejects.toBeInstanceOf(LockConflictError);
    await second.release();
    await (await c.lock.acquire('shared')).release();
    expect(await listTree(a.zk, scopeDir())).toEqual([]);
  });

  it('serves waiters first come, first served', async () => {
    const holder = await locks();
    const services = await Promise.all([1, 2, 3, 4].map(() => locks()));
    const order: number[] = [];
    const held = await holder.lock.acquire('fifo');
    const waiters: Promise<void>[] = [];
    for (const [i, s] of services.entries()) {
      waiters.push(
        s.lock.withLock('fifo', () => void order.push(i), { wait: 20_000 }),
      );
      await waitForChildren(holder.zk, `${scopeDir()}/fifo%q`, i + 1); // queued before the next one comes
    }
    await held.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(await listTree(holder.zk, scopeDir())).toEqual([]);
  });

  it('gives up after `wait` with a LockConflictError and leaves no node behind', async () => {
    const a = await locks();
    const b = await locks();
    const held = await a.lock.acquire('slow');
    const started = Date.now();
    const error = await b.lock.acquire('slow', { wait: 300 }).catch((e) => e);
    expect(error).toBeInstanceOf(LockConflictError);
    expect(error).toMatchObject({ waited: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await listTree(a.zk, scopeDir())).toEqual([`${scopeDir()}/slow`]); // only the holder
    await held.release();
  });

  it('stops waiting on abort with the abort reason and leaves no node behind', async () => {
    const a = await locks();
    const b = await locks();
    const held = await a.lock.acquire('abort');
    const controller = new AbortController();
    const waiting = b.lock.acquire('abort', { wait: Infinity, signal: controller.signal }).catch((e) => e);
    await waitForChildren(a.zk, `${scopeDir()}/abort%q`, 1);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await waiting).toBe(reason);
    expect(await listTree(a.zk, scopeDir())).toEqual([`${scopeDir()}/abort`]);
    await held.release();
    await expect(b.lock.acquire('abort', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('takes several ids in any order from two sessions without deadlock', async () => {
    const a = await locks();
    const b = await locks();
    let inside = 0;
    let overlap = false;
    const critical = async () => {
      inside += 1;
      if (inside > 1) overlap = true;
      await new Promise((r) => setImmediate(r));
      inside -= 1;
    };
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      runs.push(a.lock.withLock(['x', 'y'], critical, { wait: 20_000 }));
      runs.push(b.lock.withLock(['y', 'x'], critical, { wait: 20_000 }));
    }
    await Promise.all(runs);
    expect(overlap).toBe(false);
    expect(await listTree(a.zk, scopeDir())).toEqual([]);
  });
});

describe('LockService: ownership and loss', () => {
  it('aborts the signal when the session expires, and the late release leaves the new holder alone', async () => {
    const a = await locks();
    const b = await locks();
    const held = await a.lock.acquire('expiring');
    await expireSession(sharedConnectString(), a.zk);
    await whenLost(held);
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect(held.signal.reason).toMatchObject({ code: 'LOCK_LOST', ids: ['expiring'] });
    await expect(held.fencingToken()).rejects.toBeInstanceOf(LockLostError);

    const next = await b.lock.acquire('expiring', { wait: 5_000 });
    await waitForState(a.zk, 'connected');
    await held.release(); // late: must not touch b's node
    expect((await b.zk.exists(`${scopeDir()}/expiring`))?.ephemeralOwner).toBe(b.zk.sessionId);
    await expect(a.lock.acquire('expiring')).rejects.toBeInstanceOf(LockConflictError);
    await next.release();
  });

  it('withLock returns the result even when the lock was lost meanwhile, and warns (lockLostWarning)', async () => {
    const a = await locks({ lockLostWarning: true });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const result = await a.lock.withLock('lost-inside', async (held) => {
        await expireSession(sharedConnectString(), a.zk);
        await whenLost(held);
        return 'done';
      });
      expect(result).toBe('done');
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('lost'), { code: 'NZL_LOCK_LOST' });
    } finally {
      warn.mockRestore();
    }
  });

  it('withLock reports a loss by default with one log line and the signal, and no process warning', async () => {
    const a = await locks();
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const logWarn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      let signal!: AbortSignal;
      const result = await a.lock.withLock('lost-quietly', async (held) => {
        signal = held.signal;
        await expireSession(sharedConnectString(), a.zk);
        await whenLost(held);
        return 'done';
      });
      expect(result).toBe('done');
      expect(signal.reason).toBeInstanceOf(LockLostError);
      expect(logWarn.mock.calls.filter(([line]) => /lost-quietly.* lost: /.test(String(line)))).toHaveLength(1);
      expect(emitWarning).not.toHaveBeenCalled();
    } finally {
      emitWarning.mockRestore();
      logWarn.mockRestore();
    }
  });

  it('keeps a lock across a server restart within the session timeout', async () => {
    const server = await startServer();
    const a = await locks({ connectionString: server.connectString, sessionTimeout: 8_000 });
    const held = await a.lock.acquire('survivor');
    const token = await held.fencingToken();
    await server.kill();
    await server.start();
    await waitForState(a.zk, 'connected');
    expect(held.signal.aborted).toBe(false);
    expect(await held.fencingToken()).toBe(token);
    const b = await locks({ connectionString: server.connectString });
    await expect(b.lock.acquire('survivor')).rejects.toBeInstanceOf(LockConflictError);
    await held.release();
    await (await b.lock.acquire('survivor')).release();
  });

  it('fails fast as unavailable without a session, and recovers without restart', async () => {
    const server = await startServer();
    const a = await locks({ connectionString: server.connectString, sessionTimeout: 2_000 });
    await server.kill();
    await waitForState(a.zk, ['lost', 'expired']);
    const started = Date.now();
    await expect(a.lock.acquire('x')).rejects.toBeInstanceOf(LockUnavailableError);
    expect(Date.now() - started).toBeLessThan(500);
    await server.start();
    await waitForState(a.zk, 'connected');
    await (await a.lock.acquire('x')).release();
  });

  it('returns from a queued release against a frozen server within two operation timeouts', async () => {
    const server = await startServer();
    const a = await locks({ connectionString: server.connectString, sessionTimeout: 20_000, operationTimeout: 2_000 });
    const held = await a.lock.acquire('stalled', { wait: 5_000 }); // holder, waiter node and queue to remove
    server.pause();
    const started = Date.now();
    try {
      await held.release();
    } finally {
      server.resume();
    }
    // Generous bound that still tells 2 timeouts (4 s) from 3 (6 s: the queue's removal was awaited too).
    expect(Date.now() - started).toBeLessThan(5_000);
    const b = await locks({ connectionString: server.connectString });
    await b.lock.withLock('stalled', () => undefined, { wait: 15_000 }); // the janitor finished the job
  });

  it('never orphans a node when a create gets no answer (server frozen mid-request)', async () => {
    const server = await startServer();
    const a = await locks({ connectionString: server.connectString, sessionTimeout: 10_000, operationTimeout: 400 });
    await a.lock.withLock('frozen', () => undefined); // parents exist
    server.pause();
    let outcome: unknown;
    try {
      outcome = await a.lock.acquire('frozen').catch((e) => e);
    } finally {
      server.resume();
    }
    // Either way is correct: the create was resolved as ours, or it failed and the janitor removes the node.
    if (outcome instanceof Error) {
      expect(outcome).toBeInstanceOf(LockUnavailableError);
    } else {
      await (outcome as { release(): Promise<void> }).release();
    }
    const b = await locks({ connectionString: server.connectString });
    await b.lock.withLock('frozen', () => undefined, { wait: 15_000 }); // free again: nothing orphaned
  });

  it('never orphans a node when a create gets no answer: each branch forced at the client layer', async () => {
    const a = await locks({ operationTimeout: 1_000 });
    const other = await locks();
    const faults = new ClientFaults(a.zk);
    const holder = `${scopeDir()}/branch`;
    await a.lock.withLock('warm', () => undefined); // parents exist
    try {
      // 1. The create landed, its reply was lost: the read-back finds our token; we hold the lock.
      void faults.loseReply('create', holder);
      await (await a.lock.acquire('branch')).release();
      // 2. The create never reached the server: the read-back finds nothing, the one retry takes it.
      faults.answerWith('create', holder, CODES.CONNECTION_LOSS);
      await (await a.lock.acquire('branch')).release();
      // 3. The create lands only after the read-back missed it: the retry's NODE_EXISTS is our own node,
      //    recognised by reading it (not a 409 with our node orphaned for the life of the session).
      const late = faults.delayRequest('create', holder);
      faults.onReply('getData', holder, () => undefined); // the watch read sent behind the create: NO_NODE
      faults.onReply('getData', holder, () => void late.send());
      const third = await a.lock.acquire('branch').catch((e) => e);
      expect(third).not.toBeInstanceOf(Error);
      await expect(other.lock.acquire('branch')).rejects.toBeInstanceOf(LockConflictError);
      await third.release();
      // 4. The create landed and the read-back gets no answer either: 503, and the janitor removes our node.
      const landed = faults.loseReply('create', holder);
      faults.answerWith('getData', holder, CODES.CONNECTION_LOSS, 2); // the watch read behind it, and the read-back
      await expect(a.lock.acquire('branch')).rejects.toBeInstanceOf(LockUnavailableError);
      await landed;
      await waitForGone(other.zk, holder);
    } finally {
      faults.restore();
    }
    expect(await listTree(other.zk, scopeDir())).toEqual([]);
    await (await other.lock.acquire('branch')).release(); // free: nothing orphaned
  });

  it('answers within operationTimeout when the retry of a create whose outcome is unknown gets no answer', async () => {
    // The first create never reached the server, the read-back is slow, and the retry is never answered:
    // the retry only gets what is left of the acquire's deadline (before, a whole operation timeout more).
    const OPERATION_TIMEOUT = 2_000;
    const a = await locks({ operationTimeout: OPERATION_TIMEOUT });
    const faults = new ClientFaults(a.zk);
    const holder = `${scopeDir()}/retry-bound`;
    await a.lock.withLock('warm', () => undefined); // parents exist
    try {
      faults.answerWith('create', holder, CODES.CONNECTION_LOSS);
      faults.delayReply('getData', holder, 1_200);
      void faults.swallow('create', holder);
      const started = performance.now();
      await expect(a.lock.acquire('retry-bound')).rejects.toBeInstanceOf(LockUnavailableError);
      expect(performance.now() - started).toBeLessThan(OPERATION_TIMEOUT + 700); // 3.2 s before the bound
    } finally {
      faults.restore();
    }
  });

  it('frees the locks of a crashed process (SIGKILL) after about the session timeout', async () => {
    const sessionTimeout = 2_000;
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'test/support/hold-lock.ts', sharedConnectString(), namespace, 'crash', String(sessionTimeout)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      expect(line).toMatch(/^held [0-9a-f]{16}$/);
      const b = await locks();
      await expect(b.lock.acquire('crash')).rejects.toBeInstanceOf(LockConflictError);
      const killed = Date.now();
      child.kill('SIGKILL');
      await b.lock.withLock('crash', () => undefined, { wait: 30_000 });
      const freedAfter = Date.now() - killed;
      expect(freedAfter).toBeGreaterThan(sessionTimeout / 2);
      expect(freedAfter).toBeLessThan(sessionTimeout * 4);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('LockService: fencing, reentrancy, ids, leaks', () => {
  it('hands out fencing tokens that grow with every new holder', async () => {
    const a = await locks();
    const b = await locks();
    const first = await a.lock.acquire('fence');
    const t1 = await first.fencingToken();
    expect(await first.fencingToken()).toBe(t1); // cached
    await first.release();
    const second = await b.lock.acquire('fence', { wait: 1_000 });
    const t2 = await second.fencingToken();
    expect(t2).toBeGreaterThan(t1);
    await second.release();
    const multi = await a.lock.acquire(['f1', 'f2']);
    expect(await multi.fencingToken()).toBeGreaterThan(t2);
    await multi.release();
  });

  it('joins a lock the same async context already holds, and only that context', async () => {
    const { lock } = await locks();
    const result = await lock.withLock('outer', async (outer) => {
      const nested = await lock.withLock(['outer', 'inner'], async (inner) => {
        expect(await inner.fencingToken()).toBeGreaterThanOrEqual(await outer.fencingToken());
        return lock.withLock('outer', () => 'deep');
      });
      // the nested release freed 'inner' only
      await expect(lockFromElsewhere('outer')).rejects.toBeInstanceOf(LockConflictError);
      await (await lockFromElsewhere('inner')).release();
      return nested;
    });
    expect(result).toBe('deep');
    expect(lock.heldCount).toBe(0);

    async function lockFromElsewhere(id: string) {
      const other = await locks();
      return other.lock.acquire(id);
    }
  });

  it('does not join across unrelated concurrent calls, and keeps the lock for joined work that outlives the owner', async () => {
    const { lock } = await locks();
    const other = await locks();
    let release!: () => void;
    const holding = lock.withLock('solo', () => new Promise<void>((r) => (release = r)));
    await waitForChildren(await newService(), scopeDir(), 1);
    await expect(lock.withLock('solo', () => undefined)).rejects.toBeInstanceOf(LockConflictError);
    release();
    await holding;

    // Work spawned inside the critical section (not awaited) that joins the lock and outlives the owner.
    let finishSpawned!: () => void;
    let spawned!: Promise<LockHandle | undefined>;
    let ownerReleased!: () => void;
    const afterOwner = new Promise<void>((r) => (ownerReleased = r));
    let unjoined!: Promise<LockHandle | undefined>;
    await lock.withLock('solo', () => {
      spawned = lock.withLock('solo', async () => {
        await new Promise<void>((r) => (finishSpawned = r));
        return currentLock();
      });
      unjoined = afterOwner.then(() => currentLock()); // spawned too, but never joined
    });
    ownerReleased();
    // The owner released: the node stays while the joined work runs, so no one else gets the lock.
    await expect(other.lock.acquire('solo')).rejects.toBeInstanceOf(LockConflictError);
    await expect(lock.acquire('solo')).rejects.toBeInstanceOf(LockConflictError); // unrelated call: no join
    expect(lock.heldCount).toBe(1);
    expect(await unjoined).toBeUndefined(); // its lock was released: it holds nothing
    finishSpawned();
    const seenBySpawned = await spawned;
    expect(seenBySpawned?.signal.aborted).toBe(false); // it held a live lock to the end
    expect(lock.heldCount).toBe(0);
    await (await other.lock.acquire('solo')).release(); // the last holder freed it
    expect(await listTree(other.zk, namespace)).toEqual([scopeDir()]);
  });

  it('turns its async context storage off once no context can join a held lock, and keeps it while joined work outlives the owner', async () => {
    // Why it matters: on Node 20 an enabled AsyncLocalStorage taxes every promise of the whole app.
    const { lock } = await locks();
    let resumeStale!: () => void;
    let stale!: Promise<boolean>;
    let finishSpawned!: () => void;
    let spawned!: Promise<LockHandle[]>;
    await lock.withLock('storage', async () => {
      expect(lockScope.getStore()).toBeDefined();
      // Spawned work that joins the lock (acquire, not withLock), outlives the owner, then locks the id
      // again: that nested acquire must still find the context, or it would conflict with its own join.
      spawned = (async () => {
        const joined = await lock.acquire('storage');
        await new Promise<void>((r) => (finishSpawned = r));
        return [joined, await lock.acquire('storage')];
      })();
      // Spawned work that never joined: whether it still carries the context once every lock is released.
      stale = new Promise<void>((r) => (resumeStale = r)).then(() => lockScope.getStore() !== undefined);
      await new Promise((r) => setImmediate(r)); // the spawned join happens before the owner leaves
    });
    expect(joinableHandles()).toBe(1); // the spawned join: it still holds the lock
    finishSpawned();
    const handles = await spawned; // a conflict here would mean the context was hidden too early
    expect(handles.map((h) => h.signal.aborted)).toEqual([false, false]);
    expect(lock.heldCount).toBe(1); // the two joined handles hold it
    for (const handle of handles) await handle.release();
    expect(lock.heldCount).toBe(0);
    expect(joinableHandles()).toBe(0);
    resumeStale();
    expect(await stale).toBe(false); // off: the stale context is not carried any more
    // On again for the next critical section.
    expect(await lock.withLock('storage', () => lockScope.getStore()?.current !== undefined)).toBe(true);
    expect(joinableHandles()).toBe(0);
  });

  it('aborts the signal of every handle that joined a lock when it is lost (Promise.all siblings, spawned work)', async () => {
    const { lock, zk } = await locks();
    const handles: LockHandle[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    let spawned!: Promise<unknown>;
    await lock.withLock('shared', async (outer) => {
      handles.push(outer);
      await Promise.all([1, 2].map(() => lock.withLock('shared', (inner) => void handles.push(inner))));
      spawned = lock.withLock('shared', async (late) => {
        handles.push(late);
        await finished;
      });
      await Promise.all(
        [1, 2].map(() =>
          lock.acquire('shared').then((joined) => {
            handles.push(joined); // kept, released only after the loss
            return joined;
          }),
        ),
      );
    });
    expect(handles).toHaveLength(6);
    expect(handles.every((h) => !h.signal.aborted)).toBe(true);
    await expireSession(sharedConnectString(), zk);
    await Promise.all(handles.map(whenLost));
    for (const handle of handles) expect(handle.signal.reason).toBeInstanceOf(LockLostError);
    done();
    await spawned;
    await Promise.all(handles.map((h) => h.release()));
    expect(lock.heldCount).toBe(0);
  });

  it('refuses bad ids and options, and gives every hostile id a lock of its own inside the namespace', async () => {
    const { lock, zk } = await locks();
    for (const bad of ['', 42, null, undefined, {}, [], ['a', ''], 'x'.repeat(1025)]) {
      await expect(lock.acquire(bad as never)).rejects.toBeInstanceOf(InvalidLockIdError);
    }
    await expect(lock.acquire('ok', { scope: '' })).rejects.toBeInstanceOf(InvalidLockIdError);
    for (const wait of [-1, NaN, '10']) {
      await expect(lock.acquire('ok', { wait: wait as never })).rejects.toBeInstanceOf(InvalidLockOptionsError);
    }
    const handles = await Promise.all(HOSTILE_IDS.map((id) => lock.acquire(id)));
    const created = await listTree(zk, namespace);
    expect(created).toHaveLength(HOSTILE_IDS.length + 1); // + the scope directory
    for (const id of HOSTILE_IDS.slice(0, 10)) await expect(lock.acquire(id)).rejects.toBeInstanceOf(LockConflictError);
    await Promise.all(handles.map((h) => h.release()));
    expect(await listTree(zk, namespace)).toEqual([`${namespace}/default`]);
  });

  it('leaves no nodes, timers or watchers behind after many cycles', async () => {
    const a = await locks();
    const b = await locks();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const batch = 100;
    for (let round = 0; round < 10_000 / batch; round++) {
      await Promise.all(
        Array.from({ length: batch }, (_, i) =>
          a.lock.withLock(`cycle-${round}-${i}`, () => undefined).then(() => b.lock.withLock(`cycle-${round}-${i}`, () => undefined)),
        ),
      );
    }
    // waiting mode, contended
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).lock.withLock(`q-${i % 5}`, () => undefined, { wait: 30_000 })),
    );
    // waits that end without the lock, against a lock that stays held: timed out, and aborted
    const held = await b.lock.acquire('held-long');
    for (let i = 0; i < 30; i++) {
      const signal = i % 2 ? AbortSignal.timeout(10) : undefined;
      const error = await a.lock.acquire('held-long', { wait: signal ? Infinity : 10, signal }).catch((e) => e);
      expect(['LockConflictError', 'TimeoutError']).toContain(error?.name);
    }
    expect(await listTree(a.zk, namespace)).toEqual([scopeDir(), `${scopeDir()}/held-long`]);
    expect(a.lock.heldCount + b.lock.heldCount).toBe(1);
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
    // Checked while the lock is still held: a leftover watch on it would only go away once it is freed.
    // The waiter's side watches nothing; the holder's side only its holder node (the watch its release
    // relies on). (The scope dir's shared-lock mark keeps one data watch on the scope dir: see watchesLeft.)
    expect(watchesLeft(a.zk)).toEqual([]);
    expect(watchesLeft(b.zk)).toEqual([`data ${scopeDir()}/held-long x1`]);
    await held.release();
    for (const s of [a.zk, b.zk]) expect(watchesLeft(s)).toEqual([]);
    expect(await listTree(a.zk, namespace)).toEqual([scopeDir()]);
    expect(a.lock.heldCount + b.lock.heldCount).toBe(0);
  });
});
