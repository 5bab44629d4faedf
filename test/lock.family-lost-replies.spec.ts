/**
 * Shared and limited acquires whose create's reply is lost (issue 13, "creates with unknown outcome
 * resolved by token"): forced at the client layer, the request itself applied by the real server.
 * The caller ends up holding exactly one node of its own, found by token, or nothing at all.
 */
import { LockConflictError, LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, uniqueNamespace, waitForChildren, waitForGone, watchesLeft } from './support/zookeeper';
import { ClientFaults, clientError, CODES } from './support/client-faults';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('family-lost');
});

async function instance(): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace });
  return { lock: newLockService(zk), zk };
}

const node = (id: string) => `${namespace}/default/${id}`;

type MultiFn = (ops: unknown[], callback: (error: unknown, results?: unknown) => void) => void;
/** The next MULTI is applied by the server, but its caller gets CONNECTION_LOSS. */
function loseNextMultiReply(zk: ZookeeperService): { lost: () => number } {
  const session = (zk as unknown as { session: { multi: MultiFn } }).session;
  const multi = session.multi.bind(session);
  let lost = 0;
  session.multi = (ops, callback) =>
    multi(ops, (error, results) => {
      if (lost++ === 0) callback(clientError(CODES.CONNECTION_LOSS));
      else callback(error, results);
    });
  return { lost: () => lost };
}

describe('lost replies of shared and limited acquires', () => {
  it('fail-fast shared: the MULTI landed, its reply was lost: the member is found by token and held, no second one', async () => {
    const a = await instance();
    const b = await instance();
    await a.lock.withLock('warm', () => undefined);
    const faults = loseNextMultiReply(a.zk);
    const held = await a.lock.acquire('doc', { shared: true });
    expect(faults.lost()).toBeGreaterThan(0);
    const members = await a.zk.getChildren(node('doc'));
    expect(members).toHaveLength(1);
    expect((await a.zk.getData(`${node('doc')}/${members[0]}`)).stat.ephemeralOwner).toBe(a.zk.sessionId);
    await expect(b.lock.acquire('doc')).rejects.toBeInstanceOf(LockConflictError);
    await held.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('waiting shared: the uncontended MULTI landed, its reply was lost: found by token, one waiter and one member', async () => {
    const a = await instance();
    await a.lock.withLock('warm', () => undefined, { wait: 1_000 });
    const faults = loseNextMultiReply(a.zk);
    const held = await a.lock.acquire('doc', { shared: true, wait: 5_000 });
    expect(faults.lost()).toBeGreaterThan(0);
    expect(await a.zk.getChildren(node('doc'))).toHaveLength(1);
    expect(await a.zk.getChildren(`${node('doc')}%q`)).toHaveLength(1);
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('limited: a join whose create reply was lost (it landed) fails fast as unavailable and leaves no node behind', async () => {
    const a = await instance();
    const b = await instance();
    const first = await b.lock.acquire('tenant', { limit: 2 }); // the container exists: the join is a plain create
    const faults = new ClientFaults(a.zk);
    const landed = faults.loseReply('create', (path) => path.includes('%l/l2-'));
    const error = await a.lock.acquire('tenant', { limit: 2 }).catch((e) => e);
    await landed;
    expect(error).toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    // The node that landed is ours by token: the janitor removes it, so only b's is left.
    for (let i = 0; (await b.zk.getChildren(`${node('tenant')}%l`)).length > 1; i++) {
      if (i > 200) throw new Error('the landed node was not removed');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await first.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('limited, waiting: a join whose create reply was lost is found by token, and holds with one node', async () => {
    const a = await instance();
    const b = await instance();
    const first = await b.lock.acquire('tenant', { limit: 2 });
    const faults = new ClientFaults(a.zk);
    const creates = faults.count('create');
    void faults.loseReply('create', (path) => path.includes('%l/l2-'));
    const held = await a.lock.acquire('tenant', { limit: 2, wait: 5_000 });
    expect(creates.paths.filter((p) => p.includes('%l/'))).toHaveLength(1); // found by token: not created twice
    expect(await b.zk.getChildren(`${node('tenant')}%l`)).toHaveLength(2);
    await Promise.all([held.release(), first.release()]);
  });

  it("an exclusive waiter's gate (queued behind a shared holder): the create landed, its reply was lost: found by token, and it gets the lock", async () => {
    const a = await instance();
    const b = await instance();
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 }); // keeps its place: b queues second
    const faults = new ClientFaults(b.zk);
    const creates = faults.count('create');
    const landed = faults.loseReply('create', `${node('doc')}/x`);
    // Its next try meets NODE_EXISTS (the rules apply in turn): the gate is looked at then.
    const retried = new Promise<void>((resolve) => faults.onReply('create', `${node('doc')}/x`, resolve));
    const writer = b.lock.acquire('doc', { wait: 20_000 });
    await landed;
    await expect(a.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError); // closed from the start
    await retried;
    await waitForChildren(a.zk, `${node('doc')}%q`, 2);
    await reader.release();
    const held = await writer;
    // The lost create, then one that met NODE_EXISTS and found the gate ours (by token and session):
    // no third try at the head, and no wait for "someone else's" gate to go.
    expect(creates.paths.filter((p) => p === `${node('doc')}/x`)).toHaveLength(2);
    expect((await a.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId); // its lock: gate and group gone
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it("an exclusive waiter's gate whose reply was lost, and the waiter gives up right then: the gate is removed by token, nothing is left", async () => {
    const a = await instance();
    const b = await instance();
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 });
    const faults = new ClientFaults(b.zk);
    const landed = faults.loseReply('create', `${node('doc')}/x`);
    const cancel = new AbortController();
    const writer = b.lock.acquire('doc', { wait: 20_000, signal: cancel.signal }).catch((e) => e);
    await landed;
    cancel.abort(new Error('gave up'));
    expect(await writer).toMatchObject({ message: 'gave up' });
    await waitForGone(a.zk, `${node('doc')}/x`); // the janitor's: the gate is b's, by token and session
    const again = await a.lock.acquire('doc', { shared: true }); // the group is open again
    await Promise.all([reader.release(), again.release()]);
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
    expect(watchesLeft(b.zk)).toEqual([]);
  });
});
