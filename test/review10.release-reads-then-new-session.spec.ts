/**
 * Review 10: the read path of a release (releaseRead) checks the session once, before its reads. Its
 * versioned removes go out afterwards on whatever session the service has by then. If the session that
 * read the nodes ends while one of the pipelined reads is still unanswered (the queue's exists, which is
 * allowed to fail), and the lock is taken by another process meanwhile, the removes are sent on the NEW
 * session with the versions read on the old one: the MULTI fails on our (gone) waiter node, the nodes are
 * then removed one by one, and `remove(holder, 0)` deletes the new owner's holder node (also at version 0).
 * A third caller then takes the lock while the second still holds it: two owners.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForState } from './support/zookeeper';
import { backendSide, restoreSideFaults } from './support/locks';

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

it('a release whose session ends between its reads and its removes deletes nothing of the next owner', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace, { operationTimeout: 10_000 });
  const c = await backendSide(namespace);
  const d = await backendSide(namespace);
  const operator = await newService();

  // B waits behind O and gets the lock (holder node + waiter node in the queue).
  const held = await o.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 });
  const pending = b.backend.acquire({ ids: ['x'], scope: 'default', wait: 20_000 });
  await waitForChildren(operator, queue('x'), 1);
  await o.backend.release(held);
  const grant = (await pending) as ZookeeperGrant;

  // A reconnect of B's session (same session): its holder watch no longer vouches, so the release reads.
  const epoch = b.zk.connectionEpoch;
  const suspended = waitForState(b.zk, 'suspended');
  (b.zk as unknown as { session: { client: { connectionManager: { socket: { destroy(): void } } } } }).session.client.connectionManager.socket.destroy();
  await suspended;
  await waitForState(b.zk, 'connected');
  expect(b.zk.connectionEpoch).not.toBe(epoch);
  expect(b.zk.sessionId).toBe(grant.owner);

  // B releases: its reads of the holder and waiter answer (ours); the queue's exists reply is held back.
  const existsRead = b.faults.holdReply('exists', queue('x'));
  const releasing = b.backend.release(grant);
  await existsRead.arrived;
  // Meanwhile B's session ends (its nodes go) and the service opens a new one.
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(grant.owner);
  // C takes the free lock.
  const cGrant = (await c.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 })) as ZookeeperGrant;

  const removes = b.faults.count('remove'); // on B's new session's client
  existsRead.release();
  await releasing.catch(() => undefined);

  // C's holder node must still be there, and D must be refused.
  const stat = await operator.exists(node('x'));
  const dTry = await d.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 }).then(
    () => 'D took the lock while C holds it',
    (e) => (e instanceof LockConflictError ? 'conflict' : String(e)),
  );
  // (A plain remove of the queue may go on the new session: ZooKeeper refuses it while anyone waits, and a
  // queue path is never a holder node.)
  const nodeRemoves = removes.paths.filter((path) => path !== queue('x'));
  expect({ holderOwner: stat?.ephemeralOwner, d: dTry, removesByBOnNewSession: nodeRemoves }).toEqual({
    holderOwner: cGrant.owner,
    d: 'conflict',
    removesByBOnNewSession: [],
  });
});
