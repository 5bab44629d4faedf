/**
 * Review 12: a waiting shared acquire at the head of the queue joins the group with a plain create of its
 * member node (the group exists: another shared holder holds it). That create gets no reply (it lands
 * late, after the read-back by token, findOwnMember, missed it): the waiter creates its member again and
 * is granted. The first create lands afterwards: a member `s-<token>-<seq>` with B's token, on B's live
 * session, that no acquisition owns. The grant sweeps only the queue (and only when a WAITER create was in
 * doubt), never the group, so B's release leaves that member in the group: the shared group holds the id
 * for as long as B's session lives, and every exclusive caller is refused (fail-fast) or waits in vain.
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

const node = (id: string) => `${namespace}/default/${id}`;

it('a shared waiter whose member create lands late leaves no stray member holding the group after its release', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  // O holds the id shared (fail-fast): the group exists, so B's join is a plain create in it.
  const held = await o.backend.acquire({ ids: ['g'], scope: 'default', wait: 0, shared: true });
  // B's first member create gets no reply (held back, sent later): B looks by token, finds nothing, creates again.
  const late = b.faults.delayRequest('create', (path) => path.startsWith(`${node('g')}/s-`));
  const pending = b.backend.acquire({ ids: ['g'], scope: 'default', wait: 20_000, shared: true });
  await late.intercepted;
  const grant = (await pending) as ZookeeperGrant;
  expect(await operator.getChildren(node('g'))).toHaveLength(2); // O's member and B's second one
  // The first create lands now: a member with B's token that no grant names.
  await late.send();
  await waitForChildren(operator, node('g'), 3);

  await o.backend.release(held);
  await b.backend.release(grant);
  await drainJanitor(b.backend);

  // Every lock released, nobody waits (B's session lives on): the group must be empty or gone, and an
  // exclusive caller must get the id.
  const left = await operator.getChildren(node('g')).catch(() => []);
  const cTry = await c.backend.acquire({ ids: ['g'], scope: 'default', wait: 0 }).then(
    (g) => c.backend.release(g).then(() => 'took it'),
    (e: Error) => e.constructor.name,
  );
  expect({ left, cTry }).toEqual({ left: [], cTry: 'took it' });
});
