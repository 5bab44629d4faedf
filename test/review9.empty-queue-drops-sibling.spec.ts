/** Review 9: a queue read as empty in the release MULTI, joined before it, costs the emptied queue's removal. */
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review9');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

it('a multi-id release still removes the queue it emptied when another queue, read as empty, is joined before its MULTI', async () => {
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
  const [ownB] = await waitForChildren(operator, queue('mb'), 1);
  await o.backend.release(heldB);
  const grant = (await pending) as ZookeeperGrant;

  // Someone deletes R's waiter node in mb's queue: R's release reads that queue as there and empty.
  await operator.remove(`${queue('mb')}/${ownB}`);
  const read = r.faults.holdReply('exists', queue('mb'));
  const releasing = r.backend.release(grant);
  await read.arrived;
  // Between R's read and R's MULTI, C starts waiting for mb (its waiter node goes into that queue).
  const waiting = c.backend.acquire({ ids: ['mb'], scope: 'default', wait: 20_000 });
  await waitForChildren(operator, queue('mb'), 1);
  read.release();
  await releasing;
  // Looked at at once (the test server's container reaper runs every second).
  const left = await operator.exists(queue('ma'));
  await c.backend.release(await waiting);

  // ma's queue had only R's waiter node: R's release emptied it, and must remove it (as before the change).
  expect(left).toBeNull();
});
