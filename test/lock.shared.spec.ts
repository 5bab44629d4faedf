/**
 * Shared (read/write) locks on ZooKeeper (issue 13 §1): the group layout, request counts, the gate that
 * keeps a waiting exclusive caller from being starved, and the clean-up of everything they make.
 * Semantics common to both backends are in test/contract/lock-contract.ts.
 */
import { LockConflictError, LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService, recordCalls } from './support/locks';
import { ClientFaults, clientError } from './support/client-faults';
import { decodeNodeData } from '../lib/recipes/node-data';
import { cleanup, expireSession, listTree, newService, harness, sharedConnectString, TestServer, uniqueNamespace, waitForChildren, waitForState, watchesLeft } from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('shared');
});

async function instance(options: { sessionTimeout?: number; connectionString?: string; ownerName?: string } = {}): Promise<{ lock: LockService; zk: ZookeeperService }> {
  const zk = await newService({ namespace, ...options });
  return { lock: newLockService(zk), zk };
}

const node = (id: string) => `${namespace}/default/${id}`;

describe('shared locks on ZooKeeper', () => {
  it('costs one request to take a free id shared, two to join a group; an exclusive fail-fast acquire stays one create when free, one read more against a group', async () => {
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
    // Exclusive fail-fast: one create, NODE_EXISTS against the group; the scope is marked as one with
    // shared locks, so the node is read once (an empty group would be taken over): it has members.
    expect(calls).toEqual(['create', 'getData']);
    calls.length = 0;
    const plain = await lock.acquire('other');
    expect(calls).toEqual(['create', 'getData']); // free: one round trip (the create, its watch read behind it)
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

  it('with an acl that gives no write permission, shared acquires are refused (NO_AUTH: the scope\'s mark cannot be set), exclusive ones work', async () => {
    const zk = await newService({ namespace, auth: 'app:pw', acl: [{ scheme: 'auth', id: '', permissions: ['read', 'create', 'delete', 'admin'] }] });
    const lock = newLockService(zk);
    await lock.withLock('doc', () => undefined);
    await expect(lock.acquire('doc', { shared: true })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE', message: expect.stringContaining('NO_AUTH') });
    await expect(lock.acquire('doc', { shared: true, wait: 2_000 })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
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

/** Resolves once the gate of `holder` exists and was put up by `owner` (event-driven: an exists watch per change). */
async function gateOf(zk: ZookeeperService, holder: string, owner: string): Promise<void> {
  const gate = `${holder}/x`;
  for (const deadline = Date.now() + 20_000; ; ) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    const watch = () => changed();
    if (await zk.exists(gate, watch)) {
      const found = await zk.getData(gate).catch(() => undefined);
      if (found && decodeNodeData(found.data).owner === owner) {
        zk.unwatch(gate, watch);
        return;
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no gate of ${owner} in ${holder} within 20 s`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
    zk.unwatch(gate, watch);
  }
}

/**
 * Issue 13, defect 2: a fail-fast shared caller must not get in ahead of an exclusive caller that waits,
 * also while that one is not yet first in the queue. The first exclusive waiter with only shared callers
 * ahead of it (the gatekeeper) closes their group at once.
 */
describe('shared locks: the gate of an exclusive waiter that is not first in the queue', () => {
  it('goes up as soon as the exclusive caller queues behind a shared holder that waited, and goes with its take-over', async () => {
    const a = await instance({ ownerName: 'reader' });
    const b = await instance({ ownerName: 'writer' });
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 }); // keeps its place in the queue
    const writer = b.lock.acquire('doc', { wait: 20_000 });
    await gateOf(a.zk, node('doc'), 'writer');
    expect(await a.zk.getChildren(`${node('doc')}%q`)).toHaveLength(2); // the writer is second, not first
    await expect(a.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    await reader.release();
    const held = await writer;
    expect((await a.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('passes to the next exclusive waiter when the gatekeeper gives up, even with a shared waiter between them', async () => {
    const a = await instance({ ownerName: 'reader' });
    const first = await instance({ ownerName: 'first writer' });
    const next = await instance({ ownerName: 'next writer' });
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 });
    const cancel = new AbortController();
    const gaveUp = first.lock.acquire('doc', { wait: 20_000, signal: cancel.signal }).catch((e) => e);
    await gateOf(a.zk, node('doc'), 'first writer');
    // Queued behind the first writer: a reader (waits behind it), then the next writer (behind the reader).
    const lateReader = a.lock.acquire('doc', { shared: true, wait: 20_000 });
    await waitForChildren(a.zk, `${node('doc')}%q`, 3);
    const writer = next.lock.acquire('doc', { wait: 20_000 });
    await waitForChildren(a.zk, `${node('doc')}%q`, 4);
    cancel.abort(new Error('gave up'));
    expect(await gaveUp).toMatchObject({ message: 'gave up' });
    // The late reader joins (nobody exclusive ahead of it now); the next writer keeps later ones out.
    const late = await lateReader;
    await gateOf(a.zk, node('doc'), 'next writer');
    await expect(first.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    await Promise.all([reader.release(), late.release()]);
    const held = await writer;
    expect((await a.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(next.zk.sessionId);
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('passes to the next exclusive waiter when the gatekeeper\'s session ends; the old one queues again behind it', async () => {
    const a = await instance({ ownerName: 'reader' });
    const first = await instance({ ownerName: 'first writer' });
    const next = await instance({ ownerName: 'next writer' });
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 });
    const order: string[] = [];
    const one = first.lock.withLock('doc', () => void order.push('first writer'), { wait: 30_000 });
    await gateOf(a.zk, node('doc'), 'first writer');
    const two = next.lock.withLock('doc', () => void order.push('next writer'), { wait: 30_000 });
    await waitForChildren(a.zk, `${node('doc')}%q`, 3);
    await expireSession(sharedConnectString(), first.zk); // its waiter node and its gate go with it
    await gateOf(a.zk, node('doc'), 'next writer');
    await waitForChildren(a.zk, `${node('doc')}%q`, 3); // the first writer queued again, behind the next one
    await expect(a.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    await reader.release();
    await Promise.all([one, two]);
    expect(order).toEqual(['next writer', 'first writer']);
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('goes up once the shared waiters ahead have made their group, after an exclusive fail-fast holder left', async () => {
    const a = await instance({ ownerName: 'reader' });
    const b = await instance({ ownerName: 'writer' });
    const c = await instance({ ownerName: 'holder' });
    const holder = await c.lock.acquire('doc'); // fail-fast: no place in the queue
    const reader = a.lock.acquire('doc', { shared: true, wait: 20_000 });
    await waitForChildren(a.zk, `${node('doc')}%q`, 1);
    const writer = b.lock.acquire('doc', { wait: 20_000 });
    await waitForChildren(a.zk, `${node('doc')}%q`, 2);
    await holder.release(); // the reader makes a group; the writer, behind it, closes it
    const read = await reader;
    await gateOf(a.zk, node('doc'), 'writer');
    await expect(c.lock.acquire('doc', { shared: true })).rejects.toBeInstanceOf(LockConflictError);
    await read.release();
    await (await writer).release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('a gatekeeper that gives up takes its gate back, and leaves nothing', async () => {
    const a = await instance();
    const b = await instance({ ownerName: 'writer' });
    const reader = await a.lock.acquire('doc', { shared: true, wait: 5_000 });
    const timedOut = b.lock.acquire('doc', { wait: 1_000 }).catch((e) => e);
    await gateOf(a.zk, node('doc'), 'writer');
    expect(await timedOut).toBeInstanceOf(LockConflictError);
    const again = await a.lock.acquire('doc', { shared: true }); // open again
    await Promise.all([reader.release(), again.release()]);
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
    expect(watchesLeft(b.zk)).toEqual([]);
  });
});

/**
 * Issue 13, defect 1: an empty group left at the holder path (its last member's session ended, or the
 * member was deleted, before a release could take the group along). On a server that reaps containers
 * only once a minute (ZooKeeper's default; the suite's shared server reaps every second), so that the
 * reaper cannot be what frees the id.
 */
describe('shared locks: an empty group left at the holder path', () => {
  let server: TestServer;
  let connectionString: string;
  beforeAll(async () => {
    // Our own server: the suite's reaps every second (scripts/zk.js), this one every 10 minutes. Started
    // outside startServer, so that the file's afterEach(cleanup) closes only the services, not the server.
    server = await harness.startStandalone({ jvmFlags: ['-Dznode.container.checkIntervalMs=600000'] });
    connectionString = server.connectString;
  });
  afterAll(() => server.stop());

  const emptyGroupAt = async (zk: ZookeeperService, path: string) => {
    const stat = await zk.exists(path);
    expect(stat).toMatchObject({ numChildren: 0, ephemeralOwner: undefined }); // the group, left empty
  };

  it('an exclusive fail-fast caller gets an id whose shared holder\'s session ended (one create, one read, one MULTI)', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    await a.lock.acquire('doc', { shared: true }); // never released: its session ends instead
    await b.lock.withLock('warm', () => undefined); // b knows the scope (and that shared locks are taken in it)
    await a.zk.close();
    await emptyGroupAt(b.zk, node('doc'));
    const calls = recordCalls(b.zk);
    const held = await b.lock.acquire('doc');
    // The create fails against the group, the group is read, and found empty: removed and the lock taken
    // in one MULTI (a child made and removed first, so it can never be a live lock that is removed).
    expect(calls).toEqual(['create', 'getData', 'multi']);
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('also when the exclusive caller knew the scope before any shared lock was taken in it', async () => {
    const b = await instance({ connectionString });
    await b.lock.withLock('warm', () => undefined); // b learns the scope while no shared lock was ever taken in it
    const a = await instance({ connectionString });
    await a.lock.acquire('doc', { shared: true });
    await expireSession(connectionString, a.zk);
    await emptyGroupAt(b.zk, node('doc'));
    const held = await b.lock.acquire('doc');
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    await waitForState(a.zk, 'connected');
  });

  it('an exclusive fail-fast caller gets an id whose shared holder\'s member node was deleted before its release', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    const reader = await a.lock.acquire('doc', { shared: true });
    const lost = new Promise((resolve) => reader.signal.addEventListener('abort', resolve));
    const [member] = await a.zk.getChildren(node('doc'));
    await b.zk.remove(`${node('doc')}/${member}`); // an operator's mistake, say
    await lost;
    await emptyGroupAt(b.zk, node('doc'));
    const writer = await b.lock.acquire('doc');
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await reader.release(); // harms no one: the holder node is not its own
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await writer.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('a waiting exclusive caller is not stuck on an empty group either', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    await a.lock.acquire('doc', { shared: true });
    await a.zk.close();
    await emptyGroupAt(b.zk, node('doc'));
    const started = performance.now();
    const held = await b.lock.acquire('doc', { wait: 5_000 });
    expect(performance.now() - started).toBeLessThan(2_000); // not a wait for the reaper (10 min here)
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('takes several ids at once when one of them has an empty group in the way, all or none', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    await a.lock.acquire('y', { shared: true });
    await a.zk.close();
    await emptyGroupAt(b.zk, node('y'));
    const held = await b.lock.acquire(['x', 'y', 'z']);
    for (const id of ['x', 'y', 'z']) expect((await b.zk.getData(node(id))).stat.ephemeralOwner).toBe(b.zk.sessionId);
    await held.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
    // An empty group on one id and a lock on a later one: a conflict naming the locked one, and nothing
    // done (the take-over MULTI failed as a whole: the group stays, no other id is taken).
    const c = await instance({ connectionString });
    await c.lock.acquire('x', { shared: true });
    await c.zk.close();
    const e = await instance({ connectionString });
    const lockZ = await e.lock.acquire('z');
    await emptyGroupAt(b.zk, node('x'));
    await expect(b.lock.acquire(['x', 'y', 'z'])).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: ['z'] });
    await emptyGroupAt(b.zk, node('x'));
    expect(await b.zk.exists(node('y'))).toBeNull();
    await lockZ.release();
    const all = await b.lock.acquire(['x', 'y', 'z']);
    await all.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('never removes what was joined or taken between its read and its MULTI: the conflict stands, the others keep theirs', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    const c = await instance({ connectionString });
    await a.lock.acquire('doc', { shared: true });
    await a.zk.close();
    await emptyGroupAt(b.zk, node('doc'));
    // b reads the empty group; before its MULTI goes, a shared caller joins the group ...
    const faults = new ClientFaults(b.zk);
    const read = faults.holdReply('getData', node('doc'));
    const refused = b.lock.acquire('doc').catch((e) => e);
    await read.arrived;
    const reader = await c.lock.acquire('doc', { shared: true });
    read.release();
    expect(await refused).toBeInstanceOf(LockConflictError);
    expect(await b.zk.getChildren(node('doc'))).toHaveLength(1); // c's member, untouched
    expect((await c.lock.inspect('doc')).mode).toBe('shared');
    await reader.release();
    // ... or an exclusive caller takes it over first (a fresh lock node is at version 0, like the group).
    await c.lock.acquire('doc', { shared: true });
    await c.zk.close(); // an empty group again
    await emptyGroupAt(b.zk, node('doc'));
    const d = await instance({ connectionString });
    const again = faults.holdReply('getData', node('doc'));
    const refusedAgain = b.lock.acquire('doc').catch((e) => e);
    await again.arrived;
    const writer = await d.lock.acquire('doc'); // takes the empty group over itself
    again.release();
    expect(await refusedAgain).toBeInstanceOf(LockConflictError);
    expect((await b.zk.getData(node('doc'))).stat.ephemeralOwner).toBe(d.zk.sessionId); // d's lock, untouched
    await writer.release();
    expect(await listTree(b.zk, `${namespace}/default`)).toEqual([]);
  });

  it('a plain conflict stays one round trip (the create and the read behind it) where no shared lock was ever taken in the scope', async () => {
    const a = await instance({ connectionString });
    const b = await instance({ connectionString });
    const held = await a.lock.acquire('doc');
    await expect(b.lock.acquire('doc')).rejects.toBeInstanceOf(LockConflictError); // also has it looked at, once a minute
    await expireSession(connectionString, b.zk); // a new session has no watch on the scope: read again at once
    await waitForState(b.zk, 'connected');
    const calls = recordCalls(b.zk);
    await expect(b.lock.acquire('doc')).rejects.toBeInstanceOf(LockConflictError);
    expect(calls).toEqual(['create', 'getData']); // the read was sent with the create: no read after the conflict
    await held.release();
  });
});

/**
 * A server before ZooKeeper 3.5 has no container nodes: it answers a createContainer request
 * UNIMPLEMENTED, and (as its source reads: no server of that age runs here) a MULTI holding one with
 * MARSHALLING_ERROR. Simulated at the session: shared and limited locks are then refused as unavailable,
 * leaving nothing behind; exclusive locks work as before (with persistent queues).
 */
describe('shared and limited locks on a server without containers (before 3.5, simulated)', () => {
  type Session = {
    multi(ops: Array<{ type: string; flags?: number }>, callback: (error: unknown, results?: unknown) => void): void;
    createContainer(path: string, data: unknown, acl: unknown, callback: (error: unknown) => void): void;
  };
  const withoutContainers = (zk: ZookeeperService) => {
    const session = (zk as unknown as { session: Session }).session;
    const multi = session.multi.bind(session);
    session.multi = (ops, callback) => {
      if (ops.some((op) => op.type === 'create' && op.flags === 4)) setImmediate(() => callback(clientError(-5))); // MARSHALLING_ERROR
      else multi(ops, callback);
    };
    session.createContainer = (_path, _data, _acl, callback) => setImmediate(() => callback(clientError(-6))); // UNIMPLEMENTED
  };

  it('refuses shared and limited acquires, fail-fast or waiting, with LockUnavailableError, and leaves nothing', async () => {
    const { lock, zk } = await instance();
    withoutContainers(zk);
    await expect(lock.acquire('doc', { shared: true })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    await expect(lock.acquire('doc', { shared: true, wait: 2_000 })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    await expect(lock.acquire('doc', { limit: 2 })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    await expect(lock.acquire('doc', { limit: 2, wait: 2_000 })).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE' });
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]); // the persistent queue of the waiting one too
    // Exclusive locks are not affected: fail-fast as always, waiting with a persistent queue.
    await lock.withLock('doc', () => undefined);
    await lock.withLock('doc', () => undefined, { wait: 2_000 });
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });
});
