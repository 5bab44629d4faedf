/**
 * Safety of the ZooKeeper recipes under interleavings that real outages rarely hit: a node deleted by
 * someone else, a create whose reply is lost, a read-back that misses a create landing late. Faults are
 * injected at the client layer (one request's reply dropped, delayed or replaced), on a real server.
 */
import { GrantGoneError, LockConflictError, LockService, ZookeeperLockBackend, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService } from './support/locks';
import { ClientFaults } from './support/client-faults';
import { cleanup, listTree, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';

let namespace: string;
const faults: ClientFaults[] = [];
beforeEach(() => {
  namespace = uniqueNamespace('safety');
});
afterEach(async () => {
  for (const f of faults.splice(0)) f.restore();
  await cleanup();
});

interface Side {
  zk: ZookeeperService;
  backend: ZookeeperLockBackend;
  lock: LockService;
  faults: ClientFaults;
}

async function side(options: Parameters<typeof newService>[0] = {}): Promise<Side> {
  const zk = await newService({ namespace, ...options });
  const backend = new ZookeeperLockBackend(zk);
  const f = new ClientFaults(zk);
  faults.push(f);
  return { zk, backend, lock: newLockService(zk), faults: f };
}

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

async function owner(zk: ZookeeperService, path: string): Promise<string | undefined> {
  return (await zk.exists(path))?.ephemeralOwner;
}

describe('release deletes only nodes that are provably ours (issue 11, item 5)', () => {
  it('leaves the new holder alone when our node was deleted and the lock taken again', async () => {
    const a = await side();
    const b = await side();
    const operator = await newService();
    const grant = (await a.backend.acquire({ ids: ['gone'], scope: 'default', wait: 0 })) as ZookeeperGrant;
    await operator.remove(node('gone')); // an operator (or a bug elsewhere) deletes A's node
    const next = await b.backend.acquire({ ids: ['gone'], scope: 'default', wait: 0 });

    await expect(a.backend.release(grant)).rejects.toBeInstanceOf(GrantGoneError);
    expect(await owner(operator, node('gone'))).toBe(b.zk.sessionId); // B's node survived
    await expect(a.backend.acquire({ ids: ['gone'], scope: 'default', wait: 0 })).rejects.toBeInstanceOf(LockConflictError);
    await b.backend.release(next);
    expect(await listTree(operator, `${namespace}/default`)).toEqual([]);
  });

  it('of a multi-id grant deletes what is still ours and nothing of the id someone else holds now', async () => {
    const a = await side();
    const b = await side();
    const operator = await newService();
    const grant = await a.backend.acquire({ ids: ['m1', 'm2', 'm3'], scope: 'default', wait: 0 });
    await operator.remove(node('m2'));
    const next = await b.backend.acquire({ ids: ['m2'], scope: 'default', wait: 0 });

    await expect(a.backend.release(grant)).rejects.toBeInstanceOf(GrantGoneError);
    expect(await listTree(operator, `${namespace}/default`)).toEqual([node('m2')]);
    expect(await owner(operator, node('m2'))).toBe(b.zk.sessionId);
    await b.backend.release(next);
  });

  it('of a queued grant leaves the new holder alone and still leaves the queue', async () => {
    const a = await side();
    const b = await side();
    const operator = await newService();
    const grant = await a.backend.acquire({ ids: ['qgone'], scope: 'default', wait: 5_000 });
    expect(await listTree(operator, queue('qgone'))).toHaveLength(1); // A's waiter node stays while held
    await operator.remove(node('qgone'));
    const next = await b.backend.acquire({ ids: ['qgone'], scope: 'default', wait: 0 });

    await expect(a.backend.release(grant)).rejects.toBeInstanceOf(GrantGoneError);
    expect(await owner(operator, node('qgone'))).toBe(b.zk.sessionId);
    expect(await listTree(operator, `${namespace}/default`)).toEqual([node('qgone')]); // A's waiter and queue gone
    await b.backend.release(next);
  });

  it('leaves a node alone whose data changed after our read (versioned delete)', async () => {
    const a = await side();
    const operator = await newService();
    const grant = await a.backend.acquire({ ids: ['changed'], scope: 'default', wait: 0 });
    // Between A's read and A's delete, the node changes (a setData sent on A's own connection when the
    // read's reply arrives, so the server applies it before A's delete): the delete at the version read
    // must not apply.
    const setData = (a.zk as unknown as { session: { client: { setData(p: string, d: Buffer, v: number, cb: (e: unknown) => void): void } } })
      .session.client;
    a.faults.onReply('getData', node('changed'), () => setData.setData(node('changed'), Buffer.from('someone else'), -1, () => undefined));
    await expect(a.backend.release(grant)).resolves.toBeUndefined();
    expect(await owner(operator, node('changed'))).toBe(a.zk.sessionId); // still there: not deleted blindly
  });
});
