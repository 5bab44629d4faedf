/**
 * Review 16b: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`". A shared waiter whose member create got no answer (doubt.holder) and whose waiter
 * node is then deleted by someone ("A waiter that loses its place queues again") takes the `missing`
 * branch of acquireQueued, which AWAITS removeOwnMembers, i.e. NodeJanitor.removeOwnedChildren: the
 * janitor's loop, made for the background, retries with backoff (25 ms to 5 s) for as long as the session
 * lives while the server throttles (THROTTLED_OP). The acquire answers only once the server stops
 * throttling, however long past `wait` that is.
 */
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { CODES } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review16b');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

it('answers a shared waiter that lost its place after a doubtful member create within wait + one operationTimeout', async () => {
  const operationTimeout = 1_000;
  const wait = 1_000;
  const a = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout });
  const operator = await newService();
  const holder = `${namespace}/default/g`;
  const queue = `${holder}%q`;
  const held = (await a.backend.acquire({ ids: ['g'], scope: 'default', wait: 0, shared: true })) as ZookeeperGrant;

  // B's listing of the queue is held back until we know its waiter node's name.
  const listing = b.faults.holdReply('getChildren', queue);
  let deleting: Promise<void> | undefined;
  let waiterPath = '';
  // B's member create gets CONNECTION_LOSS (not sent): its outcome is unknown to B. Just then someone
  // deletes B's waiter node; and the server throttles B's look for its own members in the group.
  b.faults.answerWith('create', (path) => path.startsWith(`${holder}/s-`), CODES.CONNECTION_LOSS, 1, () => {
    deleting = operator.remove(waiterPath);
  });
  b.faults.answerWith('getChildren', holder, CODES.THROTTLED_OP, 8);

  const started = performance.now();
  const outcome = b.backend.acquire({ ids: ['g'], scope: 'default', wait, shared: true }).then(
    async (grant) => (await b.backend.release(grant), 'taken'),
    (error: Error) => error.constructor.name,
  );
  await listing.arrived;
  const [name] = await operator.getChildren(queue);
  waiterPath = `${queue}/${name}`;
  listing.release();
  const answer = await outcome;
  const tookMs = Math.round(performance.now() - started);
  expect(deleting).toBeDefined();
  await deleting;
  await a.backend.release(held);
  await drainJanitor(b.backend);
  expect(answer).toBe('LockConflictError');
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 400); // 400 ms of slack (unbounded: > 5 s of backoff)
});
