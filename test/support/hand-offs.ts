/** Test helpers for the in-process hand-over (lib/recipes/hand-off.ts) and the holder watch. */
import type { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { ZookeeperLockBackend } from '../../lib/recipes/zookeeper-lock.backend';
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
