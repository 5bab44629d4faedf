/**
 * review17a: README "Bounded answers": "a release that meets an outage or a slow server returns after at
 * most two operation timeouts, queued, shared and limited ones too". Review 16 bounded the read-first
 * release where releaseNow calls it (zookeeper-lock.backend.ts:517), but not where deleteUnread falls back
 * to it (zookeeper-lock.backend.ts:598: `return await this.releaseRead(owned, token, queues)` after NO_NODE
 * or BAD_VERSION). A queued grant whose waiter node someone deleted (README: a supported case, the release
 * "still removes the queue") is released unread: its MULTI fails NO_NODE, then the read-first release
 * chains its read of the holder and the holder's removal. Against a slow server (every reply 900 ms late, each within the
 * 1 s operation timeout) the release answers after ~2.7 s: three requests in a row, unbounded.
 *
 * The unread release's own loop (same file, :582-601) is unbounded too: each queue of the grant that
 * another process waits in makes its MULTI fail NOT_EMPTY, and it is sent again without that queue. A
 * queued grant of two ids, each with a waiter of another instance behind it (the common case for a
 * contended multi-id lock, no fault at all but a slow server), costs three MULTIs in a row: ~2.7 s.
 */
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { LockService } from '../lib/lock/lock.service';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

afterEach(restoreSideFaults);
afterAll(cleanup);

type RawMulti = (ops: unknown[], callback: (...reply: unknown[]) => void) => void;

/** The real replies of the service's next `count` MULTIs reach it `ms` late (the requests are applied at once). */
function delayMultiReplies(zk: ZookeeperService, count: number, ms: number): void {
  const session = (zk as unknown as { session: { multi: RawMulti } }).session;
  const original = session.multi;
  let left = count;
  session.multi = (ops, callback) => {
    if (--left <= 0) session.multi = original;
    original.call(session, ops, (...reply: unknown[]) => setTimeout(() => callback(...reply), ms));
  };
}

it('returns from the release of a queued lock whose waiter node was deleted within two operation timeouts on a slow server', async () => {
  const namespace = uniqueNamespace('r17a-unread');
  const operationTimeout = 1_000;
  const slow = 900;
  const operator = await newService({ namespace });
  const a = newLockService(await newService({ namespace }));
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  const held = await a.acquire('job'); // fail-fast holder: B queues behind it
  const queue = `${namespace}/default/job%q`;
  const taking = b.acquire('job', { wait: 20_000 });
  const [waiter] = await waitForChildren(operator, queue, 1);
  await held.release();
  const handle = await taking; // B holds: its holder node (watched) and its waiter node
  // Someone deletes B's waiter node while B holds the lock (the holder watch does not see it).
  await operator.remove(`${queue}/${waiter}`);

  // A slow server from now on: the unread release's MULTI (fails NO_NODE on the waiter node), the read of
  // the holder, and the read-first release's removal of it each answer 900 ms late.
  delayMultiReplies(zk, 2, slow);
  faults.delayReply('getData', `${namespace}/default/job`, slow);
  // (the holder's removal: in a MULTI with the queue when the queue is there, else a plain versioned remove)
  faults.delayReply('remove', `${namespace}/default/job`, slow);
  const started = performance.now();
  await handle.release();
  const tookMs = Math.round(performance.now() - started);
  console.log(`release returned after ${tookMs} ms (bound ${2 * operationTimeout} ms)`);
  await drainJanitor(backend);
  expect(await operator.exists(`${namespace}/default/job`)).toBeNull(); // it did release, eventually
  expect(tookMs).toBeLessThanOrEqual(2 * operationTimeout + 300);
});

it('returns from the release of a contended two-id queued lock within two operation timeouts on a slow server', async () => {
  const namespace = uniqueNamespace('r17a-unread2');
  const operationTimeout = 1_000;
  const slow = 900;
  const operator = await newService({ namespace });
  const a = newLockService(await newService({ namespace }));
  const c = newLockService(await newService({ namespace }));
  const { zk, backend } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  // Fail-fast holders of each id, released one after the other: B queues behind them for both ids.
  const heldX = await a.acquire('x');
  const heldY = await a.acquire('y');
  const taking = b.acquire(['x', 'y'], { wait: 20_000 });
  await waitForChildren(operator, `${namespace}/default/x%q`, 1);
  await heldX.release();
  await waitForChildren(operator, `${namespace}/default/y%q`, 1);
  await heldY.release();
  const handle = await taking; // B holds both: holder nodes (watched) and waiter nodes
  // Another instance waits for each id, behind B.
  const cx = c.acquire('x', { wait: 20_000 });
  const cy = c.acquire('y', { wait: 20_000 });
  await waitForChildren(operator, `${namespace}/default/x%q`, 2);
  await waitForChildren(operator, `${namespace}/default/y%q`, 2);

  delayMultiReplies(zk, 3, slow); // a slow server: every MULTI answered 900 ms late
  const started = performance.now();
  await handle.release();
  const tookMs = Math.round(performance.now() - started);
  console.log(`release returned after ${tookMs} ms (bound ${2 * operationTimeout} ms)`);
  await Promise.all([cx, cy].map((p) => p.then((h) => h.release())));
  await drainJanitor(backend);
  expect(tookMs).toBeLessThanOrEqual(2 * operationTimeout + 300);
});
