/**
 * The two shortcuts of issue 12 on a real ZooKeeper, with their safety edges:
 * - a release deletes the holder node without reading it when the watch set with the acquire vouches for
 *   it (holder-watch.ts), and reads first otherwise (a reconnect since, the watch fired);
 * - a queued lock whose next waiter waits in the same process is handed over with no request on the
 *   critical path (hand-off.ts), FIFO across processes kept, fencing tokens still growing, loss still seen.
 */
import { LockLostError, LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import type { LockHandle } from '../lib/lock/lock-handle';
import type { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { newLockService, recordCalls } from './support/locks';
import { cleanup, countSocketWrites, listTree, newService, uniqueNamespace, waitForChildren, waitForNoChildren, waitForState } from './support/zookeeper';
import { warmSide, handOffsOf, nextOffer } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('handoff');
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

const side = () => warmSide(namespace);



async function ownerOf(zk: ZookeeperService, path: string): Promise<string | undefined> {
  return zk.getData(path).then(
    ({ stat }) => stat.ephemeralOwner,
    () => undefined,
  );
}

describe('release without a read', () => {
  it('costs the create with its watch read behind it, then one delete', async () => {
    const { lock, zk } = await side();
    const calls = recordCalls(zk);
    const held = await lock.acquire('one');
    expect(calls.splice(0)).toEqual(['create', 'getData']);
    await held.release();
    expect(calls).toEqual(['remove']);
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('puts the create and its watch read on the socket in one write, fail-fast and waiting alike', async () => {
    const { lock, zk } = await side();
    const { writes, restore } = countSocketWrites(zk); // chunks per write that reached the socket
    try {
      const held = await lock.acquire('one-write');
      expect(writes.splice(0)).toEqual([2]); // create + getData, together
      await held.release();
      expect(writes.splice(0)).toEqual([1]); // the delete
      const waited = await lock.acquire('one-write', { wait: 1000 });
      expect(writes.splice(0)).toEqual([2]); // the uncontended MULTI + getData, together
      await waited.release();
    } finally {
      restore();
    }
  });

  it('reads first after a reconnect (a notification of the outage may still be on its way)', async () => {
    const { lock, zk } = await side();
    const held = await lock.acquire('reconnected');
    const session = zk.sessionId;
    (zk as unknown as { session: { dropConnection(): void } }).session.dropConnection();
    await waitForState(zk, 'suspended');
    await waitForState(zk, 'connected');
    expect(zk.sessionId).toBe(session); // the same session: the node is still ours
    const calls = recordCalls(zk);
    await held.release();
    expect(calls[0]).toBe('getData'); // read before deleting
    expect(calls).toContain('remove');
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('keeps at most 1,000 holder watches: a lock taken beyond them costs a create, and its release reads first', async () => {
    const { lock, zk, backend } = await side();
    const budget = (backend as unknown as { context: { holderWatches: { inUse: number; max: number } } }).context.holderWatches;
    const held = await Promise.all(Array.from({ length: budget.max }, (_, i) => lock.acquire(`many-${i}`)));
    expect(budget.inUse).toBe(budget.max);
    const calls = recordCalls(zk);
    const extra = await lock.acquire('one-more');
    expect(calls.splice(0)).toEqual(['create']);
    await extra.release();
    expect(calls.splice(0)).toEqual(['getData', 'remove']);
    await Promise.all(held.map((h) => h.release()));
    expect(budget.inUse).toBe(0);
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('gives a fencing token from the watch read, with no request, that grows with every holder', async () => {
    const { lock, zk } = await side();
    const first = await lock.acquire('fenced');
    const calls = recordCalls(zk);
    const a = await first.fencingToken();
    expect(calls).toEqual([]);
    await first.release();
    const second = await lock.acquire('fenced');
    expect(await second.fencingToken()).toBeGreaterThan(a);
    await second.release();
  });
});

describe('same-session hand-over', () => {
  it('hands a queued lock to the next waiter of the process with no request before it runs', async () => {
    const { lock, zk, backend } = await side();
    const first = await lock.acquire('h', { wait: 5_000 });
    const offered = nextOffer(backend);
    const secondTaken = lock.acquire('h', { wait: 5_000 });
    await offered;
    const [secondWaiter] = await listTree(zk, queue('h')); // the first took it uncontended: no waiter node of its own
    const calls = recordCalls(zk);
    let second!: LockHandle;
    await Promise.all([first.release(), secondTaken.then((h) => (second = h))]);
    // Nothing was asked of ZooKeeper to hand it over (the first's waiter node goes in the background).
    expect(calls.filter((c) => c !== 'remove')).toEqual([]);
    expect(await ownerOf(zk, node('h'))).toBe(zk.sessionId);
    await waitForChildren(zk, queue('h'), 1);
    expect(await listTree(zk, queue('h'))).toEqual([secondWaiter]); // its own place kept, the first's gone
    expect(second.signal.aborted).toBe(false);
    await second.release();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
    expect(handOffsOf(backend).size).toBe(0);
  });

  it('keeps first come, first served across processes: a waiter of another process in between goes first', async () => {
    const a = await side();
    const b = await side();
    const order: string[] = [];
    const held = await a.lock.acquire('fifo', { wait: 5_000 });
    const remote = b.lock.withLock('fifo', () => void order.push('remote'), { wait: 10_000 });
    await waitForChildren(a.zk, queue('fifo'), 1);
    const offered = nextOffer(a.backend);
    const local = a.lock.withLock('fifo', () => void order.push('local'), { wait: 10_000 });
    await offered; // the local waiter offers itself, but not behind the holder: behind the remote one
    await held.release();
    await Promise.all([remote, local]);
    expect(order).toEqual(['remote', 'local']);
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });

  it('gives a handed-over holder a fencing token newer than its predecessor\'s', async () => {
    const { lock, zk, backend } = await side();
    const first = await lock.acquire('tok', { wait: 5_000 });
    const before = await first.fencingToken();
    const offered = nextOffer(backend);
    const secondTaken = lock.acquire('tok', { wait: 5_000 });
    await offered;
    const calls = recordCalls(zk);
    await first.release();
    const second = await secondTaken;
    expect(calls.filter((c) => c !== 'remove')).toEqual([]); // handed over, not taken anew
    const after = await second.fencingToken();
    expect(after).toBeGreaterThan(before);
    expect(await second.fencingToken()).toBe(after); // once per holder
    const info = await lock.inspect('tok');
    expect(info.holders.map((h) => h.fencingToken)).toEqual([after]);
    await second.release();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('still sees the loss of a handed-over lock (its node deleted by someone else), and leaves the next holder alone', async () => {
    const { lock, zk, backend } = await side();
    const operator = await newService();
    const other = await side();
    const first = await lock.acquire('lost', { wait: 5_000 });
    const offered = nextOffer(backend);
    const secondTaken = lock.acquire('lost', { wait: 5_000 });
    await offered;
    await first.release();
    const second = await secondTaken;
    const aborted = new Promise((resolve) => second.signal.addEventListener('abort', () => resolve(second.signal.reason)));
    await operator.remove(node('lost'));
    expect(await aborted).toBeInstanceOf(LockLostError);
    const next = await other.lock.acquire('lost');
    await second.release();
    expect(await ownerOf(zk, node('lost'))).toBe(other.zk.sessionId); // the release deleted nothing of it
    await next.release();
  });

  it('never hands over to a waiter that gave up: the lock is freed in ZooKeeper for the next one', async () => {
    const { lock, zk, backend } = await side();
    const first = await lock.acquire('gave-up', { wait: 5_000 });
    const controller = new AbortController();
    const quitter = lock.acquire('gave-up', { wait: 5_000, signal: controller.signal }).catch((e) => e);
    await waitForChildren(zk, queue('gave-up'), 1);
    controller.abort(new Error('caller left'));
    expect(await quitter).toEqual(new Error('caller left'));
    expect(handOffsOf(backend).size).toBe(0);
    await first.release();
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('16 callers of one process take turns with never two inside, and leave nothing behind', async () => {
    const { lock, zk, backend } = await side();
    let inside = 0;
    let overlaps = 0;
    let runs = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 25; i++) {
          await lock.withLock(
            'busy',
            async () => {
              inside += 1;
              if (inside !== 1) overlaps += 1;
              await new Promise((resolve) => setImmediate(resolve));
              inside -= 1;
              runs += 1;
            },
            { wait: 30_000 },
          );
        }
      }),
    );
    expect(runs).toBe(400);
    expect(overlaps).toBe(0);
    expect(handOffsOf(backend).size).toBe(0);
    expect((backend as unknown as { context: { holderWatches: { inUse: number } } }).context.holderWatches.inUse).toBe(0);
    // The background removals of handed-over waiter nodes have all been answered by now or soon.
    await waitForNoChildren(zk, `${namespace}/default`, 5_000);
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });
});
