/** Test helpers for the in-process hand-over (lib/recipes/hand-off.ts) and the holder watch. */
import type { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { ZookeeperLockBackend } from '../../lib/recipes/zookeeper-lock.backend';
import type { HolderWatchBudget } from '../../lib/recipes/holder-watch';
import type { LockHandle } from '../../lib/lock/lock-handle';
import { ZookeeperError } from '../../lib/zookeeper/zookeeper.error';
import { newLockService } from './locks';
import { newService } from './zookeeper';

export interface Side {
  lock: LockService;
  zk: ZookeeperService;
  backend: ZookeeperLockBackend;
}

/** A LockService on its own session in `namespace`, its scope dir made and containers known. */
export async function warmSide(namespace: string): Promise<Side> {
  const zk = await newService({ namespace });
  const lock = newLockService(zk);
  const backend = (lock as unknown as { backend: ZookeeperLockBackend }).backend;
  await lock.withLock('warm', () => undefined, { wait: 1_000 });
  return { lock, zk, backend };
}

type HandOffsView = { size: number; offer: (...args: unknown[]) => unknown };

/** The backend's registry of waiters offering themselves for a hand-over. */
export const handOffsOf = (backend: ZookeeperLockBackend) => (backend as unknown as { context: { handOffs: HandOffsView } }).context.handOffs;

/** Resolves once a waiter of this backend offers itself for a hand-over (it waits right behind a holder). */
export function nextOffer(backend: ZookeeperLockBackend): Promise<void> {
  const handOffs = handOffsOf(backend);
  const spy = jest.spyOn(handOffs, 'offer');
  return new Promise((resolve) => {
    spy.mockImplementation(function (this: unknown, ...args: unknown[]) {
      spy.mockRestore();
      const offer = handOffs.offer(...args);
      resolve();
      return offer;
    });
  });
}

/**
 * Hands lock `id` from one holder of `side` to a waiter of the same process: the first acquires, the
 * second queues behind it and offers itself, the first releases (after `beforeRelease`, if given).
 * Resolves with the second, which holds the first's node and has not rewritten it yet.
 */
export async function handedOver(
  side: Pick<Side, 'lock' | 'backend'>,
  id: string,
  beforeRelease?: (first: LockHandle) => unknown,
): Promise<LockHandle> {
  const first = await side.lock.acquire(id, { wait: 5_000 });
  const offered = nextOffer(side.backend);
  const secondTaken = side.lock.acquire(id, { wait: 5_000 });
  await offered;
  await beforeRelease?.(first);
  await first.release();
  return secondTaken;
}

/** The next multi is sent and applied, but its caller is told OPERATION_TIMEOUT (a reply slower than operationTimeout). */
export function slowNextMulti(zk: ZookeeperService): Promise<void> {
  const original = zk.multi.bind(zk);
  let applied!: () => void;
  const done = new Promise<void>((resolve) => (applied = resolve));
  jest.spyOn(zk, 'multi').mockImplementationOnce((ops) => {
    void original(ops).then(applied, applied);
    return Promise.reject(new ZookeeperError('OPERATION_TIMEOUT', `ZooKeeper did not answer multi ${ops[0]?.path} in time`, ops[0]?.path));
  });
  return done;
}

/** The backend's holder-watch budget (per session). */
export const budgetOf = (backend: ZookeeperLockBackend) =>
  (backend as unknown as { context: { holderWatches: HolderWatchBudget } }).context.holderWatches;

/** What `promise` settles with: its value, or its rejection reason. */
export const settled = <T>(promise: Promise<T>): Promise<T | unknown> =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );
