/**
 * Review 12: a waiting shared acquire whose member create got no reply (it landed) looks for its member
 * by token on its next turn (joinGroup -> findOwnMember: list the group, then read the member found). If
 * its session ends while the listing's reply is on its way, the member it lists is gone by the time it
 * reads it: the read answers NO_NODE, which nobody catches (findOwnMember, joinGroup), and which is no
 * connectivity error, so acquireQueued rethrows it: the waiting acquire fails with LockUnavailableError
 * long before its deadline, with a live session and a lock it could have had (a shared group holds it,
 * which a shared caller joins). A session that ends while waiting must queue again on the new one, as
 * every other step does (README: only the deadline, the signal, or no session at all ends a wait).
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, expireSession, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';
import { backendSide, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review12');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;

it('a shared waiter whose session ends during its look-up by token queues again instead of failing', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout: 10_000 });

  // O holds the id shared: the group exists, B's join is a plain create in it.
  const held = await o.backend.acquire({ ids: ['d'], scope: 'default', wait: 0, shared: true });
  // B's member create lands, its reply is lost; B's look-up listing of the group is then held.
  const landed = b.faults.loseReply('create', (path) => path.startsWith(`${node('d')}/s-`));
  const listing = b.faults.holdReply('getChildren', node('d'));
  const outcome = (b.backend.acquire({ ids: ['d'], scope: 'default', wait: 30_000, shared: true }) as Promise<ZookeeperGrant>).then(
    (grant) => ({ grant }),
    (error: Error) => ({ error }),
  );
  await landed;
  await listing.arrived;
  // Meanwhile B's session ends (its waiter and member go with it) and a new one is live.
  const oldSession = b.zk.sessionId;
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(oldSession);
  listing.release();
  const result = await outcome;

  const verdict = 'grant' in result ? (result.grant.owner === b.zk.sessionId ? 'granted on the live session' : `granted on 0x${result.grant.owner}`) : `${result.error.constructor.name}: ${result.error.message}`;
  if ('grant' in result) await b.backend.release(result.grant);
  await o.backend.release(held);
  expect(verdict).toBe('granted on the live session');
});
