/**
 * Watches (issue 11 item 10, issue 15 item 8): one ZooKeeper watch per (path, kind) behind a local set of
 * callbacks, cancellable with `unwatch`; a throwing callback is logged and never reaches the client's
 * socket handler. Against the real server; the client's WatcherManager is only observed.
 */
import { Logger } from '@nestjs/common';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { cleanup, newService, uniqueNamespace, waitForState } from './support/zookeeper';

afterEach(cleanup);

interface RawEmitterLike {
  listenerCount(event: string): number;
}
interface RawWatcherManagerLike {
  dataWatchers: Record<string, RawEmitterLike>;
  existenceWatchers: Record<string, RawEmitterLike>;
  childWatchers: Record<string, RawEmitterLike>;
  getDataWatcherPaths(): string[];
  getExistenceWatcherPaths(): string[];
  getChildWatcherPaths(): string[];
  emit(event: { type: number; path: string }): void;
}

function watcherManager(zk: ZookeeperService): RawWatcherManagerLike {
  return (zk as unknown as { session: { client: { connectionManager: { watcherManager: RawWatcherManagerLike } } } }).session.client
    .connectionManager.watcherManager;
}

/** Listeners the client holds, over every path and kind. */
function clientListeners(zk: ZookeeperService): number {
  const manager = watcherManager(zk);
  let count = 0;
  for (const map of [manager.dataWatchers, manager.existenceWatchers, manager.childWatchers]) {
    for (const emitter of Object.values(map)) count += emitter.listenerCount('notification');
  }
  return count;
}

/** Fails instead of hanging when `promise` never settles (a generous bound, not a timing assertion). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ZookeeperService watches', () => {
  it('1,000 watches set and cancelled on a held node leave no listener in the client and no warning; a later watch works', async () => {
    const zk = await newService();
    const holder = await newService();
    const root = uniqueNamespace('watches');
    await holder.mkdirp(root);
    const node = `${root}/held`;
    await holder.create(node, { mode: 'ephemeral' });

    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let called = 0;
      // One at a time, as waits that time out one after another...
      for (let i = 0; i < 500; i++) {
        const wake = () => void (called += 1);
        await zk.getData(node, wake);
        expect(zk.unwatch(node, wake)).toBe(true);
      }
      // ...and 500 at once, cancelled while some reads are still in flight.
      const wakes = Array.from({ length: 500 }, () => () => void (called += 1));
      const reads = wakes.map((wake, i) => (i % 2 ? zk.getData(node, wake) : zk.exists(node, wake)));
      wakes.slice(0, 250).forEach((wake) => zk.unwatch(node, wake));
      await Promise.all(reads);
      wakes.slice(250).forEach((wake) => zk.unwatch(node, wake));

      expect(clientListeners(zk)).toBe(0);
      expect(watcherManager(zk).getDataWatcherPaths()).not.toContain(node);

      // A watch set afterwards on the same path works, and none of the cancelled ones fires.
      const later = deferred();
      await zk.exists(node, later.resolve);
      expect(clientListeners(zk)).toBe(1);
      await holder.remove(node);
      await later.promise;
      expect(called).toBe(0);
      expect(clientListeners(zk)).toBe(0);
      // Let any warning queued by the emitter be delivered before looking.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fires every callback on a path exactly once per change', async () => {
    const zk = await newService();
    const other = await newService();
    const root = uniqueNamespace('watches');
    await other.mkdirp(root);
    const node = `${root}/n`;
    const calls = { a: 0, b: 0 };
    const bothFired = deferred();
    const check = () => calls.a >= 1 && calls.b >= 1 && bothFired.resolve();
    const a = () => void (calls.a += 1, check());
    const b = () => void (calls.b += 1, check());
    expect(await zk.exists(node, a)).toBeNull();
    expect(await zk.exists(node, b)).toBeNull();
    await zk.exists(node, a); // the same callback twice on one path is one callback
    expect(clientListeners(zk)).toBe(1);

    await other.create(node, { mode: 'ephemeral' });
    await bothFired.promise;
    // One-shot: a second change reaches only a watch set after the first one fired.
    const c = deferred();
    await zk.exists(node, c.resolve);
    await other.remove(node);
    await c.promise;
    expect(calls).toEqual({ a: 1, b: 1 });
  });

  it('logs a callback that throws; the process survives and the other callbacks on the path still run', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const zk = await newService();
      const other = await newService();
      const root = uniqueNamespace('watches');
      await other.mkdirp(root);
      const node = `${root}/n`;
      const after = deferred();
      await zk.exists(node, () => {
        throw new Error('listener bug');
      });
      await zk.exists(node, after.resolve);

      await other.create(node, { mode: 'ephemeral' });
      await within(after.promise, 10_000, 'the second callback was not called');
      expect(logged).toHaveBeenCalledWith(expect.stringContaining(`A watch callback on ${node} threw: listener bug`));
      // The connection was not disturbed by it: the session is the same and answers.
      expect(zk.state).toBe('connected');
      expect(await zk.exists(node)).not.toBeNull();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      logged.mockRestore();
    }
  });

  it('does not re-register a cancelled watch on reconnect (SetWatches), and keeps the live ones', async () => {
    const zk = await newService();
    const other = await newService();
    const root = uniqueNamespace('watches');
    await other.mkdirp(root);
    const [kept, dropped] = [`${root}/kept`, `${root}/dropped`];
    await other.create(kept, { mode: 'ephemeral' });
    await other.create(dropped, { mode: 'ephemeral' });

    const keptFired = deferred();
    const droppedWake = jest.fn();
    await zk.getData(kept, keptFired.resolve);
    await zk.getData(dropped, droppedWake);
    zk.unwatch(dropped, droppedWake);
    expect(watcherManager(zk).getDataWatcherPaths()).toEqual([kept]);

    // A connection blip: the client re-sends its watches on the new connection.
    const session = zk.sessionId;
    const suspended = waitForState(zk, 'suspended');
    (zk as unknown as { session: { client: { connectionManager: { socket: { destroy(): void } } } } }).session.client.connectionManager.socket.destroy();
    await suspended;
    await waitForState(zk, 'connected');
    expect(zk.sessionId).toBe(session);

    // Record every notification the client receives from now on.
    const notified: string[] = [];
    const manager = watcherManager(zk);
    const emit = manager.emit.bind(manager);
    manager.emit = (event) => {
      notified.push(event.path);
      emit(event);
    };
    // `dropped` changes first: had its watch been re-registered, its notification would come first.
    await other.remove(dropped);
    await other.remove(kept);
    await keptFired.promise;
    expect(notified).toEqual([kept]);
    expect(droppedWake).not.toHaveBeenCalled();
  });
});
