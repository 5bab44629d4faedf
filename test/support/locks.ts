/** A LockService outside Nest, on a ZookeeperService of the test's own (for tests that need several sessions). */
import { LockService } from '../../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';
import { ClientFaults } from './client-faults';
import { newService } from './zookeeper';

export function newLockService(zk: ZookeeperService): LockService {
  return new LockService(new ZookeeperLockBackend(zk), zk.options);
}

/** A new session in `namespace` (closed by the suite's cleanup) with a LockService on it. */
export async function lockSide(namespace: string): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace });
  return { lock: newLockService(zk), zk };
}

/** Records the ZookeeperService calls made from now on (their names, in order), for round-trip counts. */
export function recordCalls(zk: ZookeeperService): string[] {
  const calls: string[] = [];
  for (const op of ['create', 'remove', 'exists', 'getData', 'getChildren', 'multi', 'mkdirp'] as const) {
    const original = (zk as never as Record<string, (...a: unknown[]) => unknown>)[op].bind(zk);
    jest.spyOn(zk, op).mockImplementation(((...args: unknown[]) => {
      calls.push(op);
      return original(...args);
    }) as never);
  }
  return calls;
}

const sideFaults: ClientFaults[] = [];

/**
 * One "process" of a multi-session spec: a new session in `namespace` (closed by the suite's cleanup),
 * a ZookeeperLockBackend on it, and fault injection at its client (undone by `restoreSideFaults`).
 */
export async function backendSide(
  namespace: string,
  options: Parameters<typeof newService>[0] = {},
): Promise<{ zk: ZookeeperService; backend: ZookeeperLockBackend; faults: ClientFaults }> {
  const zk = await newService({ namespace, ...options });
  const faults = new ClientFaults(zk);
  sideFaults.push(faults);
  return { zk, backend: new ZookeeperLockBackend(zk), faults };
}

/** Undoes the fault injection of every backendSide made so far (call in afterEach, before cleanup). */
export function restoreSideFaults(): void {
  for (const faults of sideFaults.splice(0)) faults.restore();
}

/** Waits for the janitor work a backend started in the background (sweeps, interrupted releases). */
export function drainJanitor(backend: ZookeeperLockBackend): Promise<void> {
  return (backend as unknown as { janitor: { drain(): Promise<void> } }).janitor.drain();
}
