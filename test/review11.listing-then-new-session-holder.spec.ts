/**
 * Review 11: a queued acquire checks its session once per loop turn (acquireQueued: `zk.sessionId !==
 * waiter.sessionId`), then lists the queue (readPosition) and, at the head, creates the holder node
 * (takeHolder). Nothing pins that create to the session the listing was read on. If the session ends
 * while the listing's reply is on its way and a new one is live when it is handled, the holder node is
 * created on the NEW session, for a waiter whose node went with the old one. acquireQueued returns a
 * grant on the old session, the backend's acquire sees the session mismatch and throws
 * LockUnavailableError ("session ended while taking the lock") - and the holder node it just made, with
 * our token, on our live session, stays: nobody will ever release it. The lock is blocked for everyone
 * for as long as the process's session lives.
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
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
const queue = (id: string) => `${node(id)}%q`;

it('a waiter whose session ends while its queue listing is on its way leaves no holder node on the new session', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout: 10_000 });
  const c = await backendSide(namespace);
  const operator = await newService();

  const held = await o.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 });
  // B's first listing (it is at the head, behind O's holder): once answered, the NEXT listing is held.
  let second!: { arrived: Promise<void>; release(): void };
  const armed = new Promise<void>((resolve) =>
    b.faults.onReply('getChildren', queue('x'), () => {
      second = b.faults.holdReply('getChildren', queue('x'));
      resolve();
    }),
  );
  const pending = b.backend.acquire({ ids: ['x'], scope: 'default', wait: 30_000 }) as Promise<ZookeeperGrant>;
  const outcome = pending.then(
    (grant) => ({ grant }),
    (error: Error) => ({ error }),
  );
  await armed;
  await waitForChildren(operator, queue('x'), 1);

  // O releases: B wakes, checks its session (still the one), lists the queue: that reply is held.
  await o.backend.release(held);
  await second.arrived;
  // Meanwhile B's session ends (its waiter node goes with it) and a new one is live.
  const oldSession = b.zk.sessionId;
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(oldSession);
  second.release();
  const result = await outcome;

  const stat = await operator.exists(node('x'));
  const holderOwner = stat?.ephemeralOwner;
  const verdict =
    'grant' in result
      ? result.grant.owner === holderOwner && result.grant.owner === b.zk.sessionId
        ? 'B holds it, on its live session'
        : `B has a grant on session 0x${result.grant.owner}, the holder is 0x${holderOwner}`
      : holderOwner === undefined
        ? 'free'
        : holderOwner === b.zk.sessionId
          ? `B's acquire failed (${result.error.message}) and left a holder node on its live session`
          : 'held by someone else';
  // Whoever holds it: C may take it if it is free; it must not be blocked by a node nobody releases.
  const cTry = await c.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 }).then(
    () => 'took it',
    (e: Error) => e.constructor.name,
  );
  expect({ verdict, cTry: verdict === 'free' ? cTry : 'took it' }).toEqual({
    verdict: expect.stringMatching(/^(B holds it, on its live session|free)$/),
    cTry: 'took it',
  });
});
