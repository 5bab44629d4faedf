/**
 * Review 12: a waiting limited acquire whose join create got no reply (it landed) looks for its node by
 * token on its next join (limited.recipe.ts join: list the container, then read the node found). If its
 * session ends while that listing's reply is on its way, the node it lists is gone by the time it reads
 * it: the read answers NO_NODE, which join does not catch and which is no connectivity error, so
 * acquireLimited rethrows it: the waiting acquire fails with LockUnavailableError long before its
 * deadline, on a live session, for a lock with a free slot. It must join again on the new session.
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

const slots = (id: string) => `${namespace}/default/${id}%l`;

it('a limited waiter whose session ends during its look-up by token joins again instead of failing', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout: 10_000 });

  // O holds one of two slots: the container exists, B's join is a plain create with its listing behind it.
  const held = await o.backend.acquire({ ids: ['s'], scope: 'default', wait: 0, limit: 2 });
  const landed = b.faults.loseReply('create', (path) => path.startsWith(`${slots('s')}/l2-`));
  // The listing pipelined behind that create passes; the next one (the look-up by token) is held.
  let lookup!: { arrived: Promise<void>; release(): void };
  const armed = new Promise<void>((resolve) =>
    b.faults.onReply('getChildren', slots('s'), () => {
      lookup = b.faults.holdReply('getChildren', slots('s'));
      resolve();
    }),
  );
  const outcome = (b.backend.acquire({ ids: ['s'], scope: 'default', wait: 30_000, limit: 2 }) as Promise<ZookeeperGrant>).then(
    (grant) => ({ grant }),
    (error: Error) => ({ error }),
  );
  await landed;
  await armed;
  await lookup.arrived;
  const oldSession = b.zk.sessionId;
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(oldSession);
  lookup.release();
  const result = await outcome;

  const verdict = 'grant' in result ? (result.grant.owner === b.zk.sessionId ? 'granted on the live session' : `granted on 0x${result.grant.owner}`) : `${result.error.constructor.name}: ${result.error.message}`;
  if ('grant' in result) await b.backend.release(result.grant);
  await o.backend.release(held);
  expect(verdict).toBe('granted on the live session');
});
