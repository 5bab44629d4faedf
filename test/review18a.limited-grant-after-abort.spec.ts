/**
 * review18a: README "Waiting": "abort gives the signal's reason"; limits: "timeout, abort, maxWaiters ...
 * work as for locks", "a waiter that gives up (timeout, abort) leaves nothing taken".
 *
 * acquireLimited returns the grant as soon as its join's listing says "holder"
 * (lib/recipes/limited.recipe.ts:67-70, and :76-79 after a listing) without looking at its signal (the
 * only check is at the top of the loop, :50, before the join): a
 * caller that aborted while the join's create was under way is handed the lock all the same, and
 * withLock runs its function for a caller that left. (An exclusive waiting acquire in the same situation
 * answers the abort's reason, and nothing runs.) The abort here comes while the create's reply is on
 * its way (held back until the abort); in production any abort during the join's round trip does it.
 */
import { LockService } from '../lib/lock/lock.service';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

it.each([
  ['exclusive (as it should be)', {}],
  ['limited', { limit: 1 }],
])('a waiting %s acquire whose caller aborted during its create runs nothing and answers the reason', async (_kind, mode) => {
  const namespace = uniqueNamespace('r18a-limab');
  const operator = await newService({ namespace });
  const { backend, faults } = await backendSide(namespace);
  const b = new LockService(backend);
  await b.withLock('warm', () => undefined, mode); // B knows the scope dir (and, for the lock itself, nothing)
  const controller = new AbortController();
  // The join's create (the holder create or the uncontended MULTI for an exclusive lock) reaches the
  // server; its reply is held until the caller has aborted.
  const held = faults.holdReply('create', (path) => path.startsWith(`${namespace}/default/t`));
  const session = (b as unknown as { backend: { zk: { session: { multi: (ops: unknown, callback: (...r: unknown[]) => void) => void } } } }).backend.zk.session;
  const originalMulti = session.multi;
  let releaseMulti: (() => void) | undefined;
  const multiArrived = new Promise<void>((arrived) => {
    session.multi = (ops: unknown, callback: (...r: unknown[]) => void) => {
      session.multi = originalMulti;
      originalMulti.call(session, ops, (...reply: unknown[]) => {
        releaseMulti = () => callback(...reply);
        arrived();
      });
    };
  });
  let ran = false;
  const answer = b.withLock('t', () => void (ran = true), { ...mode, wait: 5_000, signal: controller.signal }).then(
    () => 'ran',
    (error: Error) => error.message,
  );
  await Promise.race([held.arrived, multiArrived]);
  controller.abort(new Error('the caller left'));
  held.release();
  releaseMulti?.();
  session.multi = originalMulti;
  const result = await answer;
  await drainJanitor(backend);
  const left = await operator.getChildren(`${namespace}/default`);
  console.log(`${_kind}: answered "${result}", fn ran: ${ran}, left under the scope: ${JSON.stringify(left)}`);
  expect(ran).toBe(false);
  expect(result).toBe('the caller left');
});
