/**
 * LockService at application shutdown, on a real ZooKeeper: no grant once it began, queued acquires end
 * with LockUnavailableError while the session is still open, held locks get a grace period, then are lost.
 */
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  LockLostError,
  LockService,
  LockUnavailableError,
  Locked,
  ZookeeperLockModule,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';

afterEach(cleanup);

function whenLost(handle: { signal: AbortSignal }): Promise<void> {
  if (handle.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => handle.signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Rejects if `work` takes longer than `ms`: a generous bound that only catches hangs. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer!: NodeJS.Timeout;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)));
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

describe('LockService shutdown', () => {
  it('grants nothing once shutdown began: a create answered after it is released and the caller gets LockUnavailableError', async () => {
    const namespace = uniqueNamespace('shutdown-late');
    const zk = await newService({ namespace });
    const observer = await newService({ namespace });
    const lock = newLockService(zk);
    await (await lock.acquire('warm-up')).release(); // the scope directory exists: the next create is the holder's
    const client = (zk as unknown as { session: { client: { create: (...args: unknown[]) => unknown } } }).session.client;
    const original = client.create;
    let letReplyThrough!: () => void;
    const replyHeld = new Promise<void>((resolve) => (letReplyThrough = resolve));
    client.create = function (this: unknown, ...args: unknown[]) {
      client.create = original; // only this one reply is held back
      const callback = args[args.length - 1] as (...reply: unknown[]) => void;
      args[args.length - 1] = (...reply: unknown[]) => void replyHeld.then(() => callback(...reply));
      return original.apply(this, args);
    };
    const acquiring = lock.acquire('late').catch((error) => error);
    await waitForChildren(observer, `${namespace}/default`, 1); // the node exists; its reply is held back
    const closing = lock.beforeApplicationShutdown();
    letReplyThrough();
    const refused = await acquiring;
    expect(refused).toBeInstanceOf(LockUnavailableError);
    expect(refused.message).toMatch(/shutting down/);
    await within(closing, 10_000);
    expect(zk.state).toBe('connected'); // the session is still open, and yet nothing is held
    expect(lock.heldCount).toBe(0);
    expect(await listTree(observer, namespace)).toEqual([`${namespace}/default`]);
  });

  it('lets held locks finish and release normally during the grace period, then aborts what is still held', async () => {
    const zk = await newService({ namespace: uniqueNamespace('shutdown-grace') });
    const lock = new LockService(new ZookeeperLockBackend(zk), { shutdownTimeout: 5_000 });
    const finishing = await lock.acquire('finishing');
    const stuck = await lock.acquire('stuck');
    let closed = false;
    const closing = lock.beforeApplicationShutdown().then(() => (closed = true));
    await expect(lock.acquire('new')).rejects.toBeInstanceOf(LockUnavailableError);
    // The held lock works as usual: not lost, its fencing token readable, released as usual.
    expect(finishing.signal.aborted).toBe(false);
    await expect(finishing.fencingToken()).resolves.toEqual(expect.any(BigInt));
    await finishing.release();
    expect(finishing.signal.aborted).toBe(false);
    expect(closed).toBe(false); // still waiting for 'stuck'
    await within(whenLost(stuck), 20_000);
    expect(stuck.signal.reason).toBeInstanceOf(LockLostError);
    expect((stuck.signal.reason as Error).message).toMatch(/shutdown grace period of 5000 ms/);
    await within(closing, 10_000);
    expect(lock.heldCount).toBe(0);
  });

  it('ends the grace period as soon as the last held lock is released', async () => {
    const zk = await newService({ namespace: uniqueNamespace('shutdown-early') });
    const lock = new LockService(new ZookeeperLockBackend(zk), { shutdownTimeout: 60_000 });
    const held = await lock.acquire('held');
    const closing = lock.beforeApplicationShutdown();
    await held.release();
    await within(closing, 10_000); // far below the 60 s grace
    expect(held.signal.aborted).toBe(false);
  });

  it('ends a queued @Locked job with LockUnavailableError while the session is still open, and never runs it', async () => {
    const namespace = uniqueNamespace('shutdown-locked');
    @Injectable()
    class Jobs {
      runs = 0;
      @Locked('nightly', { wait: 30_000, scope: 'jobs' })
      async nightly(): Promise<void> {
        this.runs += 1;
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace })],
      providers: [Jobs],
    }).compile();
    await moduleRef.init();
    const other = newLockService(await newService({ namespace }));
    const holder = await other.acquire('nightly', { scope: 'jobs' });
    const jobs = moduleRef.get(Jobs);
    const zk = moduleRef.get(ZookeeperService);
    const closeSession = jest.spyOn(zk, 'close');
    let sessionClosingWhenRefused: boolean | undefined;
    const job = jobs.nightly().catch((error) => {
      sessionClosingWhenRefused = closeSession.mock.calls.length > 0;
      return error;
    });
    await waitForChildren(zk, `${namespace}/jobs/nightly%q`, 1);
    const closing = moduleRef.close();
    const refused = await job;
    expect(refused).toBeInstanceOf(LockUnavailableError);
    // Refused by the shutdown's first phase, not by the session's close (onApplicationShutdown) after it.
    expect(sessionClosingWhenRefused).toBe(false);
    await closing;
    await holder.release();
    await (await other.acquire('nightly', { scope: 'jobs' })).release(); // free: the job never took it
    expect(jobs.runs).toBe(0);
  });
});
