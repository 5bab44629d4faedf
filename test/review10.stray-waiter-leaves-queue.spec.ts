/**
 * Review 10: a waiter whose first queue create got no reply (it lands late, after the read-back missed it)
 * queues again, and takes the lock. Its stray waiter node lands in the queue after its last listing. At
 * release the queue is not removed with it (it holds the stray too), and the sweep that removes the stray
 * afterwards (janitor.removeOwnedChildren) does not remove the queue it has just emptied: the queue is left
 * behind although every lock is released and nobody waits (to the server's reaper; for good on < 3.5).
 * Fixed: the sweep (janitor.sweepQueue) removes the queue it empties.
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review10');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

it('removes the queue once the stray waiter node of a lost create is swept at release', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const operator = await newService();

  const held = await o.backend.acquire({ ids: ['sq'], scope: 'default', wait: 0 });
  // B's first waiter create gets no reply (held back, sent later): B looks, finds nothing, queues again.
  const late = b.faults.delayRequest('create', (path) => path.startsWith(`${queue('sq')}/w-`));
  const pending = b.backend.acquire({ ids: ['sq'], scope: 'default', wait: 20_000 });
  await late.intercepted;
  await waitForChildren(operator, queue('sq'), 1); // B's second create: its place
  await o.backend.release(held);
  const grant = (await pending) as ZookeeperGrant;
  // The first create lands now, after B's last listing: a stray waiter node of B's.
  await late.send();
  expect(await operator.getChildren(queue('sq'))).toHaveLength(2);

  // Which queue removes of B's succeed: the server's reaper (every second here) could remove the queue too,
  // and must not make this test pass.
  const removedByB: string[] = [];
  const remove = b.zk.remove.bind(b.zk);
  jest.spyOn(b.zk, 'remove').mockImplementation((path, ...rest) => remove(path, ...rest).then(() => void removedByB.push(path)));
  await b.backend.release(grant);
  // The sweep runs in the background: wait for it (and only it) to finish.
  await drainJanitor(b.backend);
  expect(await operator.getChildren(queue('sq')).catch(() => [])).toEqual([]); // the sweep took the stray
  // Every lock released, nobody waits. Looked at at once (the test server's reaper runs every second).
  const left = await operator.exists(queue('sq'));
  expect({ left, removedByB: removedByB.includes(queue('sq')) }).toEqual({ left: null, removedByB: true });
});
