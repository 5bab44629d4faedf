/**
 * Shared (read/write) locks on ZooKeeper (issue 13 §1): the group layout, request counts, the gate that
 * keeps a waiting exclusive caller from being starved, and the clean-up of everything they make.
 * Semantics common to both backends are in test/contract/lock-contract.ts.
 */
import { LockConflictError, LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService, recordCalls } from './support/locks';
import { cleanup, expireSession, listTree, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForState } from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('shared');
});

async function instance(options: { sessionTimeout?: number } = {}): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace, ...options });
  return { lock: newLockService(zk), zk };
}

const node = (id: string) => `${namespace}/default/${id}`;

describe('shared locks on ZooKeeper', () => {
  it('costs one request to take a free id shared, two to join a group; an exclusive fail-fast acquire stays one create', async () => {
    const { lock, zk } = await instance();
    await lock.withLock('warm', () => undefined); // scope dir exists
    const calls = recordCalls(zk);
    const first = await lock.acquire('doc', { shared: true });
    expect(calls).toEqual(['multi']); // the group's container and our member, in one MULTI
    calls.length = 0;
    const second = await lock.acquire('doc', { shared: true, scope: 'default' });
    expect(calls).toEqual(['multi', 'multi']); // the first fails (a group exists), the second joins it
    expect((await listTree(zk, node('doc'))).filter((p) => p.includes('/s-'))).toHaveLength(2);
    calls.length = 0;
    await expect(lock.acquire('doc')).rejects.toBeInstanceOf(LockConflictError);
    // Exclusive fail-fast: one create, NODE_EXISTS against the group (and, in the background, at most one
    // look a second at the group, which removes it if it was left empty).
    expect(calls[0]).toBe('create');
    expect(calls.filter((c) => c !== 'getData')).toEqual(['create']);
    calls.length = 0;
    const plain = await lock.acquire('other');
    expect(calls).toEqual(['create', 'getData']); // no shared holder: one round trip (the create, its watch read behind it)
    await Promise.all([first.release(), second.release(), plain.release()]);
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]); // the last member took the group with it
  });

  it('refuses a shared fail-fast caller while an exclusive one holds the id, in two requests, leaving nothing', async () => {
    const { lock, zk } = await instance();
    const other = await instance();
    await lock.withLock('warm', () => undefined);
    const held = await other.lock.acquire('doc');
    const calls = recordCalls(zk);
    await expect(lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    expect(calls).toEqual(['multi', 'multi']);
    await held.release();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('a waiting exclusive caller closes the group (the gate): fail-fast shared callers are refused until it had its turn', async () => {
    const a = await instance();
    const b = await instance();
    const reader = await a.lock.acquire('doc', { shared: true });
    const writer = b.lock.acquire('doc', { wait: 20_000 });
    await waitForChildren(a.zk, node('doc'), 2); // our member and the writer's gate
    expect(await a.zk.getChildren(node('doc'))).toContain('x');
    await expect(a.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    // A shared waiting caller that came after the writer waits behind it.
    const order: string[] = [];
    const lateReader = a.lock.acquire('doc', { shared: true, wait: 20_000 }).then((h) => (order.push('late reader'), h));
    await waitForChildren(a.zk, `${node('doc')}%q`, 2);
    await reader.release();
    const w = await writer;
    order.push('writer');
    expect((await a.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId); // an exclusive holder node now
    await w.release();
    const late = await lateReader;
    expect(order).toEqual(['writer', 'late reader']);
    await late.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('a waiting exclusive caller that gives up takes its gate back: the group is open again', async () => {
    const a = await instance();
    const b = await instance();
    const reader = await a.lock.acquire('doc', { shared: true });
    await expect(b.lock.acquire('doc', { wait: 300 })).rejects.toBeInstanceOf(LockConflictError);
    const again = await a.lock.acquire('doc', { shared: true });
    expect((await a.zk.getChildren(node('doc'))).sort()).toHaveLength(2); // two members, no gate
    await reader.release();
    await again.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('removes a group left empty (members released at the same moment) at the next exclusive caller', async () => {
    const { lock, zk } = await instance();
    const [one, two] = [await lock.acquire('doc', { shared: true }), await lock.acquire('doc', { shared: true })];
    await Promise.all([one.release(), two.release()]); // each may see the other still there
    await zk.mkdirp(node('doc')); // make sure: an empty group, as a crash leaves it
    await expect(lock.acquire('doc', { wait: 5_000 }).then((h) => h.release())).resolves.toBeUndefined();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('gives each shared holder its own fencing token (its member node), growing with each new holder', async () => {
    const { lock, zk } = await instance();
    const one = await lock.acquire('doc', { shared: true });
    const two = await lock.acquire('doc', { shared: true });
    const [t1, t2] = [await one.fencingToken(), await two.fencingToken()];
    expect(t2).toBeGreaterThan(t1);
    const members = (await zk.getChildren(node('doc'))).sort();
    expect((await zk.getData(`${node('doc')}/${members[0]}`)).stat.czxid).toBe(t1);
    await Promise.all([one.release(), two.release()]);
  });

  it('frees a crashed shared holder with its session: a waiting exclusive caller gets the lock, no empty group is left blocking', async () => {
    const a = await instance({ sessionTimeout: 4_000 });
    const b = await instance();
    await a.lock.acquire('doc', { shared: true }); // never released: a's session ends instead
    const writer = b.lock.acquire('doc', { wait: 30_000 });
    await waitForChildren(b.zk, node('doc'), 2);
    await expireSession(sharedConnectString(), a.zk);
    const held = await writer;
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    await waitForState(a.zk, 'connected');
  });

  it('signals a shared holder whose member node is deleted by someone else', async () => {
    const { lock, zk } = await instance();
    const held = await lock.acquire('doc', { shared: true });
    const aborted = new Promise((resolve) => held.signal.addEventListener('abort', resolve));
    const [member] = await zk.getChildren(node('doc'));
    await zk.remove(`${node('doc')}/${member}`);
    await aborted;
    await held.release();
  });

});
