/** A LockService outside Nest, on a ZookeeperService of the test's own (for tests that need several sessions). */
import { LockService } from '../../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';
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
