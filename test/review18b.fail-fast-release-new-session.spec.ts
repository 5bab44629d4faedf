/**
 * Review 18b (mutation testing): "What one session read, only that session acts on" and "a release never
 * deletes the next owner's node". review10 covers a queued grant, whose release removes its nodes in one
 * pinned MULTI. A fail-fast grant has one node and no queue: its read-first release removes it with a plain
 * versioned delete (node-ownership.ts removeOne). That delete must be pinned to the session that read the
 * node as ours too: on a session that replaced it meanwhile, the holder node of the same name and version
 * (0) is the next owner's. Unpinned, `remove(holder, 0)` goes out on the new session and deletes it, and a
 * third caller then takes the lock while the second still holds it.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';
import { backendSide, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review18b-ff');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;

it('a fail-fast release whose session ends between its read and its delete deletes nothing of the next owner', async () => {
  const b = await backendSide(namespace, { operationTimeout: 10_000 });
  const c = await backendSide(namespace);
  const d = await backendSide(namespace);
  const operator = await newService();

  const grant = (await b.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 })) as ZookeeperGrant;

  // A reconnect of B's session (same session): its holder watch no longer vouches, so the release reads.
  const epoch = b.zk.connectionEpoch;
  const suspended = waitForState(b.zk, 'suspended');
  (b.zk as unknown as { session: { client: { connectionManager: { socket: { destroy(): void } } } } }).session.client.connectionManager.socket.destroy();
  await suspended;
  await waitForState(b.zk, 'connected');
  expect(b.zk.connectionEpoch).not.toBe(epoch);
  expect(b.zk.sessionId).toBe(grant.owner);

  // B releases: the reply of its read of the holder (ours, version 0) is held back.
  const read = b.faults.holdReply('getData', node('x'));
  const releasing = b.backend.release(grant);
  await read.arrived;
  // Meanwhile B's session ends (its node goes) and the service opens a new one; C takes the free lock.
  await expireSession(sharedConnectString(), b.zk);
  await waitForState(b.zk, 'connected');
  expect(b.zk.sessionId).not.toBe(grant.owner);
  const cGrant = (await c.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 })) as ZookeeperGrant;

  const removes = b.faults.count('remove'); // on B's new session's client
  read.release();
  await releasing.catch(() => undefined);

  const stat = await operator.exists(node('x'));
  const dTry = await d.backend.acquire({ ids: ['x'], scope: 'default', wait: 0 }).then(
    () => 'D took the lock while C holds it',
    (e) => (e instanceof LockConflictError ? 'conflict' : String(e)),
  );
  expect({ holderOwner: stat?.ephemeralOwner, d: dTry, removesByBOnNewSession: removes.paths }).toEqual({
    holderOwner: cGrant.owner,
    d: 'conflict',
    removesByBOnNewSession: [],
  });
});
