/**
 * The uncontended waiting acquire (issue 12, target 1): one MULTI makes queue, waiter and holder when
 * nobody waits. Request counts are deterministic; the lost-reply branches are forced at the client layer
 * (the MULTI is applied by the real server and only its answer is replaced).
 */
import { LockConflictError, ZookeeperService } from 'nestjs-zookeeper-lock';
import { lockSide, recordCalls } from './support/locks';
import { cleanup, listTree, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { ClientFaults, clientError, CODES } from './support/client-faults';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('uncontended');
});

const locks = () => lockSide(namespace);

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

type MultiFn = (ops: unknown[], callback: (error: unknown, results?: unknown) => void) => void;
function sessionOf(zk: ZookeeperService): { multi: MultiFn } {
  return (zk as unknown as { session: { multi: MultiFn } }).session;
}

describe('uncontended waiting acquire', () => {
  it('costs one write to take (with the watch read behind it, same round trip) and one write to release, leaving nothing behind', async () => {
    const { lock, zk } = await locks();
    await lock.withLock('warm', () => undefined, { wait: 1_000 }); // scope dir exists, containers known
    const calls = recordCalls(zk);
    await lock.withLock('free', async () => {
      // While held: the holder node alone, as a fail-fast acquire leaves it (the MULTI's queue was a probe).
      expect(calls).toEqual(['multi', 'getData']);
      expect(await zk.exists(queue('free'))).toBeNull();
      expect((await zk.exists(node('free')))?.ephemeralOwner).toBe(zk.sessionId);
      calls.length = 0;
    }, { wait: 1_000 });
    // The watch vouches for the holder: one delete, with no read first.
    expect(calls).toEqual(['remove']);
    expect(await listTree(zk, `${namespace}/default`)).toEqual([]);
  });

  it('keeps first come, first served: a caller arriving while others queue goes behind them', async () => {
    const holder = await locks();
    const waiters = await Promise.all([1, 2].map(() => locks()));
    const order: string[] = [];
    await holder.lock.withLock('warm', () => undefined, { wait: 1_000 });
    const held = await holder.lock.acquire('fifo', { wait: 1_000 });
    // The holder took it uncontended (no waiter node of its own): the queue holds only those who wait.
    const first = waiters[0].lock.withLock('fifo', () => void order.push('first'), { wait: 20_000 });
    await waitForChildren(holder.zk, queue('fifo'), 1);
    const late = holder.lock.withLock('fifo', () => void order.push('late, same process as the holder'), { wait: 20_000 });
    await waitForChildren(holder.zk, queue('fifo'), 2);
    const second = waiters[1].lock.withLock('fifo', () => void order.push('second'), { wait: 20_000 });
    await waitForChildren(holder.zk, queue('fifo'), 3);
    await held.release();
    await Promise.all([first, late, second]);
    expect(order).toEqual(['first', 'late, same process as the holder', 'second']);
    expect(await listTree(holder.zk, `${namespace}/default`)).toEqual([]);
  });

  it('holds the lock when the MULTI landed but its reply was lost (found again by token), with no other node', async () => {
    const a = await locks();
    const other = await locks();
    await a.lock.withLock('warm', () => undefined, { wait: 1_000 });
    const session = sessionOf(a.zk);
    const multi = session.multi.bind(session);
    let lost = 0;
    session.multi = (ops, callback) =>
      multi(ops, (error, results) => {
        if (lost++ === 0) callback(clientError(CODES.CONNECTION_LOSS)); // applied, answer lost
        else callback(error, results);
      });
    const creates = new ClientFaults(a.zk).count('create');
    const held = await a.lock.acquire('lost-reply', { wait: 5_000 });
    expect(lost).toBeGreaterThan(0);
    expect(creates.paths).toEqual([]); // found by token in one read: no waiter made, no holder create tried
    expect((await a.zk.exists(node('lost-reply')))?.ephemeralOwner).toBe(a.zk.sessionId);
    expect(await a.zk.exists(queue('lost-reply'))).toBeNull(); // nothing else made
    await expect(other.lock.acquire('lost-reply')).rejects.toBeInstanceOf(LockConflictError);
    await held.release();
    expect(await listTree(other.zk, `${namespace}/default`)).toEqual([]);
  });

  it('takes the lock through the queue when the MULTI never reached the server', async () => {
    const a = await locks();
    await a.lock.withLock('warm', () => undefined, { wait: 1_000 });
    const session = sessionOf(a.zk);
    const multi = session.multi.bind(session);
    let dropped = 0;
    session.multi = (ops, callback) => {
      if (dropped++ === 0) return void setImmediate(() => callback(clientError(CODES.CONNECTION_LOSS))); // never sent
      multi(ops, callback);
    };
    const held = await a.lock.acquire('never-sent', { wait: 5_000 });
    expect(dropped).toBeGreaterThan(0);
    expect(await listTree(a.zk, queue('never-sent'))).toHaveLength(1);
    await held.release();
    expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
  });
});
