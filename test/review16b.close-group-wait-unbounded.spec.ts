/**
 * Review 16b: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`", and review 2's fix: "the deadline is looked at between the steps of a wait". An
 * exclusive waiter at the head of the queue whose lock is held by a shared group goes: holder create
 * (NODE_EXISTS), then waitOffering's read of the holder (a group: 'group'), then closeGroup's gate create,
 * and only then looks at its deadline (queued.recipe.ts: waitForRemoval returns 'group' with no look at the
 * deadline, and closeGroup creates its gate before its loop's first look). Two steps, each allowed a whole
 * operation timeout, between two looks: against a slow (not frozen) server the answer comes late.
 */
import { LockService } from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

it('answers an exclusive waiter that finds a shared group within wait + one operationTimeout when the server is slow', async () => {
  const namespace = uniqueNamespace('r16b-close');
  const operationTimeout = 1_000;
  const wait = 100;
  const a = new LockService(new ZookeeperLockBackend(await newService({ namespace })));
  const bZk = await newService({ namespace, operationTimeout });
  const b = new LockService(new ZookeeperLockBackend(bZk));
  await b.withLock('warm', () => undefined); // B knows the scope dir
  const held = await a.acquire('g', { shared: true }); // a shared group holds g
  const holder = `${namespace}/default/g`;
  const faults = new ClientFaults(bZk);
  const slow = 900; // every one of these answers arrives in time
  faults.delayReply('getData', holder, 0); // the holder watch's read sent behind B's create (not awaited on NODE_EXISTS)
  faults.delayReply('getData', holder, slow); // B reads the holder in its way: a group
  faults.delayReply('create', `${holder}/x`, slow); // B closes the group with its gate
  const started = performance.now();
  const outcome = await b.acquire('g', { wait }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error.constructor.name,
  );
  const tookMs = Math.round(performance.now() - started);
  faults.restore();
  await held.release();
  expect(outcome).toBe('LockConflictError');
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 400); // 400 ms of slack (unbounded: ~1850)
});
