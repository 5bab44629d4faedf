/**
 * Concurrency limits on ZooKeeper (issue 13 §2): node layout, request counts, and that nothing is left
 * behind. Semantics common to both backends are in test/contract/lock-family-contract.ts.
 */
import { LockConflictError, LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService, recordCalls } from './support/locks';
import { cleanup, listTree, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('limited');
});

async function instance(): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace });
  return { lock: newLockService(zk), zk };
}

const slots = (id: string) => `${namespace}/default/${id}%l`;

describe('concurrency limits on ZooKeeper', () => {
  it('each caller is one node l<limit>-<token>-<seq> in <id>%l; the last one out takes the container along', async () => {
    const { lock, zk } = await instance();
    const held = [await lock.acquire('tenant', { limit: 2 }), await lock.acquire('tenant', { limit: 2 })];
    const names = await zk.getChildren(slots('tenant'));
    expect(names).toHaveLength(2);
    for (const name of names) expect(name).toMatch(/^l2-[0-9a-f]+-\d{10}$/);
    await held[0].release();
    await held[1].release();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('costs: joining a held limit is one create with its listing pipelined; a refusal adds one remove; release is a read round and one write', async () => {
    const { lock, zk } = await instance();
    const first = await lock.acquire('tenant', { limit: 1 });
    const calls = recordCalls(zk);
    await expect(lock.acquire('tenant', { limit: 1 })).rejects.toBeInstanceOf(LockConflictError);
    expect(calls).toEqual(['create', 'getChildren', 'remove']);
    expect(await zk.getChildren(slots('tenant'))).toHaveLength(1); // the refused caller left nothing
    calls.length = 0;
    await first.release();
    expect(calls).toEqual(['getData', 'exists', 'multi']); // our node and the emptied container in one MULTI
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('a waiter that times out removes its node, and the holder still holds', async () => {
    const a = await instance();
    const b = await instance();
    const held = await a.lock.acquire('tenant', { limit: 1 });
    const waiting = b.lock.acquire('tenant', { limit: 1, wait: 400 }).catch((e) => e);
    await waitForChildren(a.zk, slots('tenant'), 2);
    expect(await waiting).toBeInstanceOf(LockConflictError);
    expect(await a.zk.getChildren(slots('tenant'))).toHaveLength(1);
    expect(held.signal.aborted).toBe(false);
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });
});
