/**
 * Review 11: an exclusive waiter at the head of the queue closing a shared group (queued.recipe.ts
 * closeGroup) checks its session at the top of its loop, lists the group, and when only the gate is
 * left sends MULTI [remove <holder>/x at version 0, remove <holder>, create <holder> ephemeral]. Neither
 * the listing nor the MULTI is pinned to the session the gate was made on. If that session ends while
 * the listing's answer is on its way, and another process's exclusive waiter has put up ITS gate in the
 * group meanwhile (a gate is always at version 0), the MULTI goes out on the new session and deletes the
 * other waiter's gate and the group, and makes a holder node on the new session. The acquire then fails
 * (its waiter's session ended) and leaves that holder node behind: the other waiter, first in line,
 * waits on a node nobody will ever release. Fixed: the MULTI is sent only on the session the gate was
 * made on; refused there, B queues again on its new session, behind P.
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { ClientFaults } from './support/client-faults';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForState } from './support/zookeeper';
import { backendSide, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review11');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const gate = (id: string) => `${node(id)}/x`;
const queue = (id: string) => `${node(id)}%q`;

/** Holds the reply of the side's SECOND listing of `path` (the first is answered as usual). */
function holdSecondListing(s: { faults: ClientFaults }, path: string): Promise<{ arrived: Promise<void>; release(): void }> {
  return new Promise((resolve) => s.faults.onReply('getChildren', path, () => resolve(s.faults.holdReply('getChildren', path))));
}

it("a group closed across a session change deletes nobody else's gate and leaves no holder node behind", async () => {
  const s1 = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout: 15_000 });
  const f = await backendSide(namespace);
  const p = await backendSide(namespace, { operationTimeout: 15_000 });
  const operator = await newService();

  // S1 holds x shared; B (exclusive, waiting) is first in line: its gate goes into the group.
  const s1Grant = await s1.backend.acquire({ ids: ['x'], scope: 'default', wait: 0, shared: true });
  const bHold = holdSecondListing(b, node('x'));
  const bOutcome = (b.backend.acquire({ ids: ['x'], scope: 'default', wait: 30_000 }) as Promise<ZookeeperGrant>).then(
    (grant) => `granted on 0x${grant.owner}`,
    (e: Error) => `refused: ${e.message}`,
  );
  const bListing = await bHold;
  await waitForChildren(operator, node('x'), 2); // S1's member and B's gate
  // S1 leaves: B lists the group again ([x]): that answer is held.
  await s1.backend.release(s1Grant);
  await bListing.arrived;

  // B's session ends (its gate and waiter node go); a new one is live.
  const bOld = b.zk.sessionId;
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(bOld);
  // Meanwhile: F joins shared, P queues exclusively, is first in line, and puts ITS gate into the group.
  const fGrant = await f.backend.acquire({ ids: ['x'], scope: 'default', wait: 0, shared: true });
  const pHold = holdSecondListing(p, node('x'));
  const pOutcome = (p.backend.acquire({ ids: ['x'], scope: 'default', wait: 4_000 }) as Promise<ZookeeperGrant>).then(
    (grant) => ({ grant }),
    (error: Error) => ({ error }),
  );
  const pListing = await pHold;
  await waitForChildren(operator, node('x'), 2); // F's member and P's gate
  await f.backend.release(fGrant);
  await pListing.arrived; // P's listing [x] is held: P has not sent its own MULTI yet

  const pGateOwner = (await operator.exists(gate('x')))?.ephemeralOwner;
  expect(pGateOwner).toBe(p.zk.sessionId);

  // B's held listing ([x]) is handled now. B's MULTI was meant for its ended session: it must not go out
  // on the new one (where P's gate, also at version 0, and the group would be removed). B queues again on
  // its new session instead, behind P.
  bListing.release();
  await waitForChildren(operator, queue('x'), 2); // P's waiter and B's new one
  const gateAfterB = await operator.exists(gate('x')).catch(() => null);
  const holderAfterB = await operator.exists(node('x'));
  // P, first in line, takes the lock once its own listing is answered; B gets it after P (FIFO).
  pListing.release();
  const pResult = await pOutcome;
  const bBeforeP = await Promise.race([bOutcome, Promise.resolve('still waiting')]);
  if ('grant' in pResult) await p.backend.release(pResult.grant);
  const b1 = await bOutcome;

  expect({
    pGateAfterB: gateAfterB?.ephemeralOwner === p.zk.sessionId ? "P's gate" : gateAfterB ? 'someone else' : 'deleted',
    holderAfterB: holderAfterB?.ephemeralOwner === undefined && holderAfterB ? 'the group' : holderAfterB ? 'a holder node' : 'none',
    p: 'grant' in pResult ? 'P took the lock' : `P: ${pResult.error.constructor.name}`,
    bBeforeP,
    b: b1,
  }).toEqual({ pGateAfterB: "P's gate", holderAfterB: 'the group', p: 'P took the lock', bBeforeP: 'still waiting', b: `granted on 0x${b.zk.sessionId}` });
});
