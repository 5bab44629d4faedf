/**
 * Review 12: a waiting limited acquire whose first join create gets no reply (it lands late, after the
 * read-back by token missed it) joins again and holds. acquireLimited resets `doubtful` after the second
 * join and, once holding, sweeps nothing: the grant has no `sweep`, and the finally's janitor runs only
 * when not holding. The first create lands after that: a slot node `l1-<token>-<seq>` with B's token, on
 * B's live session, that no acquisition owns. After B releases, that stray is the first slot: it HOLDS
 * the limited lock for everyone else, for as long as B's session lives (the queued lock sweeps its
 * queue for exactly this, see review10.stray-waiter-leaves-queue; the limited lock does not).
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review12');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const slots = (id: string) => `${namespace}/default/${id}%l`;

it('a limited waiter whose first join create lands late leaves no stray slot holding the lock after its release', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  // O holds the limit-1 lock (the container exists: B's join is a plain create).
  const held = await o.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 });
  // B's first join create gets no reply (held back, sent later): B looks by token, finds nothing, joins again.
  const late = b.faults.delayRequest('create', (path) => path.startsWith(`${slots('t')}/l1-`));
  const pending = b.backend.acquire({ ids: ['t'], scope: 'default', wait: 20_000, limit: 1 });
  await late.intercepted;
  await waitForChildren(operator, slots('t'), 2); // O's slot and B's second one
  await o.backend.release(held);
  const grant = (await pending) as ZookeeperGrant;
  // The first create lands now: a slot with B's token behind B's own.
  await late.send();
  expect(await operator.getChildren(slots('t'))).toHaveLength(2);

  await b.backend.release(grant);
  await drainJanitor(b.backend);

  // Every lock released, nobody waits: C must get the limit-1 lock (B's session lives on).
  const left = await operator.getChildren(slots('t')).catch(() => []);
  const cTry = await c.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 }).then(
    (g) => c.backend.release(g).then(() => 'took it'),
    (e: Error) => e.constructor.name,
  );
  expect({ left, cTry }).toEqual({ left: [], cTry: 'took it' });
});
