/**
 * `holdAtLeast`: a lock stays held until that long after it was granted, even when its holder is done
 * sooner; nobody waits for it (withLock and @Locked return when the work is done), the lock is freed in
 * the background, a shutdown frees it at once, and a session lost meanwhile loses no work. Real
 * ZooKeeper, two sessions. The fleet-wide effect on schedulers is in locked.schedule.spec.ts.
 */
import { Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidLockOptionsError,
  LockConflictError,
  LockEvent,
  Locked,
  LockService,
  ZookeeperLockModule,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { ZookeeperLockTestingModule } from 'nestjs-zookeeper-lock/testing';
import { newLockService } from './support/locks';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForGone } from './support/zookeeper';

/** Resolves with the first event of `type` for `id` that `events` receives from now on. */
function nextEvent(listeners: Set<(e: LockEvent) => void>, type: LockEvent['type'], id: string): Promise<LockEvent> {
  return new Promise((resolve) => {
    const listener = (event: LockEvent) => {
      if (event.type === type && 'ids' in event && event.ids.includes(id)) {
        listeners.delete(listener);
        resolve(event);
      }
    };
    listeners.add(listener);
  });
}

async function twoInstances() {
  const namespace = uniqueNamespace('hold-at-least');
  const listeners = new Set<(e: LockEvent) => void>();
  const events: LockEvent[] = [];
  const aZk = await newService({
    namespace,
    onLockEvent: (e) => {
      events.push(e);
      for (const listener of [...listeners]) listener(e);
    },
  });
  const bZk = await newService({ namespace });
  return { namespace, a: newLockService(aZk), aZk, b: newLockService(bZk), bZk, events, listeners };
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('holdAtLeast', () => {
  afterAll(cleanup);

  it('keeps the lock after withLock returned, until holdAtLeast has passed since it was granted', async () => {
    const { a, b, aZk, namespace, listeners } = await twoInstances();
    const released = nextEvent(listeners, 'released', 'job');
    const result = await a.withLock('job', () => 'done', { holdAtLeast: 1_500 });
    expect(result).toBe('done'); // returned as soon as the work was done
    // Without holdAtLeast the lock would be free now (see the next test): it is still held.
    expect(a.heldCount).toBe(1);
    await expect(b.acquire('job')).rejects.toBeInstanceOf(LockConflictError);
    await expect(a.acquire('job')).rejects.toBeInstanceOf(LockConflictError); // its own process too: nothing joins it
    expect(await aZk.exists(`${namespace}/default/job`)).not.toBeNull();
    // Then it is freed in the background, no sooner than holdAtLeast after it was granted.
    const theirs = await b.acquire('job', { wait: 20_000 });
    expect(((await released) as { heldMs: number }).heldMs).toBeGreaterThanOrEqual(1_500 - 2);
    expect(a.heldCount).toBe(0);
    await theirs.release();
  });

  it('frees the lock at once when the work took longer than holdAtLeast (and without it)', async () => {
    const { a, b } = await twoInstances();
    await a.withLock('long', () => new Promise((resolve) => setTimeout(resolve, 30)), { holdAtLeast: 10 });
    await (await b.acquire('long')).release();
    await a.withLock('plain', () => undefined);
    await (await b.acquire('plain')).release();
  });

  it('applies to acquire/release too: release() resolves at once, the node goes later', async () => {
    const { a, b, bZk, namespace } = await twoInstances();
    const lock = await a.acquire('handle', { holdAtLeast: 800 });
    await lock.release();
    await expect(b.acquire('handle')).rejects.toBeInstanceOf(LockConflictError);
    await waitForGone(bZk, `${namespace}/default/handle`);
    await (await b.acquire('handle')).release();
  });

  it('keeps a lock for the longest holdAtLeast of the handles that held it (a nested acquisition counts from its join)', async () => {
    const { a, b } = await twoInstances();
    await a.withLock('nested', async () => {
      await a.withLock('nested', () => undefined, { holdAtLeast: 1_000 }); // joins the held lock
    });
    await expect(b.acquire('nested')).rejects.toBeInstanceOf(LockConflictError);
    await (await b.acquire('nested', { wait: 20_000 })).release();
  });

  it('refuses a holdAtLeast that is not a whole number of ms from 0, or longer than maxHold', async () => {
    const { a } = await twoInstances();
    for (const bad of [-1, 1.5, NaN, Infinity, '100', 2 ** 31]) {
      await expect(a.acquire('x', { holdAtLeast: bad as never })).rejects.toThrow(/holdAtLeast/);
    }
    await expect(a.acquire('x', { holdAtLeast: 500, maxHold: 100 })).rejects.toThrow(InvalidLockOptionsError);
    await expect(a.acquire('x', { holdAtLeast: 500, maxHold: 100 })).rejects.toThrow(/must not be longer than maxHold \(100 ms\)/);
    const limited = newLockService(await newService({ namespace: uniqueNamespace('hold-at-least'), maxHold: 100 }));
    await expect(limited.acquire('x', { holdAtLeast: 500 })).rejects.toThrow(/maxHold/); // the module's maxHold too
    expect(() => Locked('job', { holdAtLeast: -5 })).toThrow(/@Locked: option holdAtLeast must be/);
    expect(() => Locked('job', { holdAtLeast: 500, maxHold: 100 })).toThrow(/@Locked: option holdAtLeast .* maxHold/);
    await (await a.acquire('x', { holdAtLeast: 0 })).release();
  });

  it('reports a session lost during the extra hold as a warning and a release: no work was lost, nothing throws', async () => {
    const { a, aZk, b, events, listeners } = await twoInstances();
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const processWarnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      let signal!: AbortSignal;
      await a.withLock('resting', (lock) => void (signal = lock.signal), { holdAtLeast: 600_000 });
      const released = nextEvent(listeners, 'released', 'resting');
      await expireSession(sharedConnectString(), aZk);
      await released;
      expect(a.heldCount).toBe(0);
      expect(signal.aborted).toBe(false); // its holder was done: nobody to tell the work is unsafe
      expect(events.filter((e) => e.type === 'lost')).toEqual([]);
      expect(warned).toHaveBeenCalledWith(expect.stringMatching(/resting.*freed \d+ ms before its holdAtLeast ended/));
      // (The session's own expiry is logged as an error by the connection layer; nothing about the lock is.)
      const lockErrors = errors.mock.calls.map(([message]) => String(message)).filter((message) => !/^ZooKeeper session \S+ expired/.test(message));
      expect(lockErrors).toEqual([]);
      expect(processWarnings).not.toHaveBeenCalled();
      await (await b.acquire('resting', { wait: 20_000 })).release(); // the session took the node with it
    } finally {
      warned.mockRestore();
      errors.mockRestore();
      processWarnings.mockRestore();
    }
  });

  it('leaves no timer behind once kept locks are freed', async () => {
    const { a, b } = await twoInstances();
    const before = timers();
    for (let i = 0; i < 50; i++) await a.withLock(`t-${i}`, () => undefined, { holdAtLeast: 300 });
    expect(timers() - before).toBeGreaterThan(0); // kept ones have their timer (the count can see them)
    await (await b.acquire('t-49', { wait: 20_000 })).release(); // the last one was freed, so all were
    expect(a.heldCount).toBe(0);
    expect(timers() - before).toBeLessThan(5); // 50 if each left its timer
  });

  describe('in a Nest application', () => {
    @Injectable()
    class Job {
      runs = 0;
      @Locked('nightly', { onConflict: 'skip', holdAtLeast: 600_000 })
      async run(): Promise<'ran' | undefined> {
        this.runs += 1;
        return 'ran';
      }
    }

    it('frees kept locks at once when the application shuts down (a closing app never waits holdAtLeast)', async () => {
      const namespace = uniqueNamespace('hold-at-least');
      const events: LockEvent[] = [];
      const moduleRef = await Test.createTestingModule({
        imports: [
          ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, onLockEvent: (e) => events.push(e) }),
        ],
        providers: [Job],
      }).compile();
      await moduleRef.init();
      const job = moduleRef.get(Job);
      await expect(job.run()).resolves.toBe('ran');
      await expect(job.run()).resolves.toBeUndefined(); // kept: this instance skips too
      expect(job.runs).toBe(1);
      const zk = moduleRef.get(ZookeeperService);
      expect(await zk.exists(`${namespace}/default/nightly`)).not.toBeNull();
      const other = await newService({ namespace });
      const before = timers();
      const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      await moduleRef.close(); // the test times out if this waits the 10 minutes
      const warnings = warned.mock.calls.map(([message]) => String(message));
      warned.mockRestore();
      // Freed by the shutdown itself, before the session closed: a release, not a lock cut short.
      expect(events.filter((e) => e.type === 'released')).toEqual([expect.objectContaining({ ids: ['nightly'] })]);
      expect(warnings.filter((message) => /holdAtLeast/.test(message))).toEqual([]);
      expect(await other.exists(`${namespace}/default/nightly`)).toBeNull();
      expect(timers()).toBeLessThanOrEqual(before); // its timer went with it
    });

    it('works the same on the testing module (no ZooKeeper)', async () => {
      const moduleRef = await Test.createTestingModule({ imports: [ZookeeperLockTestingModule.forRoot()], providers: [Job] }).compile();
      await moduleRef.init();
      const job = moduleRef.get(Job);
      await expect(job.run()).resolves.toBe('ran');
      await expect(job.run()).resolves.toBeUndefined();
      expect(moduleRef.get(LockService).heldCount).toBe(1);
      await moduleRef.close();
      expect(moduleRef.get(LockService).heldCount).toBe(0);
    });
  });
});
