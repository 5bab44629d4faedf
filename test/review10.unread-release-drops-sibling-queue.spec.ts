/**
 * Review 10: the no-read release (deleteUnread: holder watches vouch) of a multi-id grant sends one MULTI
 * with every queue it waited in. When another process waits behind us in ONE of those queues, the MULTI
 * fails NOT_EMPTY there, and the retry drops EVERY queue, also the ones our removal emptied: those are
 * left to the server's reaper (for good on ZooKeeper < 3.5, where queues are persistent). Same defect as
 * review 9, on the other release path.
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review10');
});
afterEach(async () => {
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

it('a multi-id release with no read removes the queue it emptied even when another queue has a waiter behind us', async () => {
  const o = await backendSide(namespace);
  const r = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  // R waits for both ids (a waiter node in each queue) and gets them.
  const heldA = await o.backend.acquire({ ids: ['ma'], scope: 'default', wait: 0 });
  const heldB = await o.backend.acquire({ ids: ['mb'], scope: 'default', wait: 0 });
  const pending = r.backend.acquire({ ids: ['ma', 'mb'], scope: 'default', wait: 20_000 });
  await waitForChildren(operator, queue('ma'), 1);
  await o.backend.release(heldA);
  await waitForChildren(operator, queue('mb'), 1);
  await o.backend.release(heldB);
  const grant = (await pending) as ZookeeperGrant;

  // C (another process) waits for mb behind R.
  const waiting = c.backend.acquire({ ids: ['mb'], scope: 'default', wait: 20_000 });
  await waitForChildren(operator, queue('mb'), 2);

  // Whether R's own requests removed ma's queue: the server's reaper (every second here) could too, and
  // must not make this test pass. (R's release MULTI holds all its removes; a retry without mb's queue too.)
  const removedByR: string[] = [];
  const multi = r.zk.multi.bind(r.zk);
  jest.spyOn(r.zk, 'multi').mockImplementation((ops, ...rest) =>
    multi(ops, ...rest).then((results) => (removedByR.push(...ops.filter((op) => op.op === 'remove').map((op) => op.path)), results)),
  );
  await r.backend.release(grant);
  await c.backend.release(await waiting);
  // Every lock released, nobody waits: looked at at once (the test server's container reaper runs every second).
  const left = await operator.exists(queue('ma'));

  // ma's queue had only R's waiter node: R's release emptied it, and must remove it.
  expect({ left, removedByR: removedByR.includes(queue('ma')) }).toEqual({ left: null, removedByR: true });
});
