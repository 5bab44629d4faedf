/**
 * review18a: README "Release never deletes someone else's lock": "A change that lands just before our
 * delete, too late for its notification, makes the versioned delete fail, and the read path then leaves
 * the node alone", and "If a holder node was deleted by someone and the lock taken by another owner,
 * nothing of it is deleted, `release()` resolves, and the handle is reported lost".
 *
 * Review 17a bounded what follows a refused first delete of deleteUnread
 * (zookeeper-lock.backend.ts:598: `settleWithin(rest, 2 * operationTimeout - elapsed, () => undefined)`).
 * But in that case the holder watch was already dropped (releaseNow, :515, "before our own delete fires
 * it"): the read path's GrantGoneError is the ONLY report of the loss. On a slow server (every reply
 * 800 ms late, each within the 1 s operation timeout) the refused MULTI, the read and the removal of our
 * waiter node take ~2.4 s; the bound answers `undefined` at 2 s and the GrantGoneError that comes later
 * is swallowed by the race: the release resolves as a clean one, the handle's signal never aborts, no
 * `lost` event. Someone else changed (took) our node while we held it, and nobody is told.
 */
import { LockService } from '../lib/lock/lock.service';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

afterEach(restoreSideFaults);
afterAll(cleanup);

type RawMulti = (ops: unknown[], callback: (...reply: unknown[]) => void) => void;
type RawClient = { setData(p: string, d: Buffer, v: number, cb: (e: unknown) => void): void };

it('reports the lock lost when its unread delete is refused (node changed too late for its watch) on a slow server', async () => {
  const namespace = uniqueNamespace('r18a-loss');
  const operationTimeout = 1_000;
  const slow = 800;
  const operator = await newService({ namespace });
  const a = newLockService(await newService({ namespace }));
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const events: string[] = [];
  const b = new LockService(backend, { ...zk.options, onLockEvent: (event) => void events.push(event.type) });
  const holder = `${namespace}/default/job`;
  const queue = `${holder}%q`;
  const held = await a.acquire('job');
  const taking = b.acquire('job', { wait: 20_000 });
  const [waiter] = await waitForChildren(operator, queue, 1);
  await held.release();
  const handle = await taking; // holder node (watch vouches) + waiter node
  expect(handle.signal.aborted).toBe(false);

  const session = (zk as unknown as { session: { multi: RawMulti; client: RawClient } }).session;
  const original = session.multi;
  let multis = 0;
  let removalAnswered!: () => void;
  const remainderDone = new Promise<void>((resolve) => (removalAnswered = resolve));
  session.multi = (ops, callback) => {
    multis += 1;
    // Just before the release's MULTI goes out, the holder node changes (sent on B's own connection: the
    // server applies it first, its notification cannot come before B sent; B's watch is dropped anyway).
    if (multis === 1) session.client.setData(holder, Buffer.from('someone else'), -1, () => undefined);
    if (multis >= 2) session.multi = original;
    const which = multis;
    original.call(session, ops, (...reply: unknown[]) =>
      setTimeout(() => {
        callback(...reply);
        if (which === 2) setImmediate(removalAnswered); // the read path's last request: its answer is in
      }, slow),
    );
  };
  faults.delayReply('getData', holder, slow); // the read path's read of the holder (and of our waiter)
  faults.delayReply('getData', `${queue}/${waiter}`, slow);
  faults.delayReply('remove', `${queue}/${waiter}`, slow); // our waiter's removal, when not in a MULTI

  const started = performance.now();
  await handle.release();
  const tookMs = Math.round(performance.now() - started);
  await drainJanitor(backend);
  await remainderDone; // the background remainder has had its last answer
  await drainJanitor(backend);
  console.log(`release returned after ${tookMs} ms; signal aborted: ${handle.signal.aborted}; events: ${events.join(', ')}`);
  expect(await operator.getData(holder).then((r) => r.data.toString())).toBe('someone else'); // left alone (good)
  expect(handle.signal.aborted).toBe(true); // reported lost, as README promises
  expect(events).toContain('lost');
});
