/**
 * Review 13: a multi-id waiting acquire whose first ids went with an ended session starts over on the
 * live one (acquireEach) with the SAME acquisition token. What the failed attempt left to the janitor
 * (an interrupted release of its last id, on the live session) is then indistinguishable, by token and
 * session, from what the new attempt holds: the new attempt even takes the old attempt's holder node as
 * its own (waitForRemoval recognises "our" token), and the old attempt's janitor deletes it afterwards.
 * The grant says it holds both ids, its holder node of one is gone, and another owner takes that id.
 *
 * Interleaving (P multi-acquires [a, b], O holds b):
 *  1. P takes a on session S1, queues for b. S1 expires: a goes; P's b waiter queues again on S2.
 *  2. O releases b; P takes b on S2 (its holder-watch read gets no answer: the release must read).
 *  3. a (S1) and b (S2) differ: acquireEach releases b. The release's read gets no answer (connection
 *     trouble): the janitor is told to remove b's nodes with token T on S2; the release waits for it
 *     one operation timeout, then attempt 2 begins, still with token T.
 *  4. Attempt 2 takes a on S2, queues for b, finds b's holder node (token T, S2) in its way and takes it
 *     as its own.
 *  5. The janitor's next try reads b's holder: token T, session S2, "ours": removed.
 *  6. O takes b while P's grant holds [a, b].
 * Fixed: every attempt of acquireEach has a token of its own, so nothing of an earlier attempt is ever
 * taken for the new one's.
 */
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { clientError, CODES } from './support/client-faults';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { drainJanitor } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review13');
});
afterEach(async () => {
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

it('a multi-id acquire that starts over on a new session never holds a node its earlier attempt left to the janitor', async () => {
  Error.stackTraceLimit = 60;
  const o = { zk: await newService({ namespace }) };
  const oBackend = new ZookeeperLockBackend(o.zk);
  const pZk = await newService({ namespace });
  const pBackend = new ZookeeperLockBackend(pZk);
  const operator = await newService();

  const heldB = await oBackend.acquire({ ids: ['b'], scope: 'default', wait: 0 });
  const pending = pBackend.acquire({ ids: ['a', 'b'], scope: 'default', wait: 30_000 }) as Promise<ZookeeperGrant>;
  await waitForChildren(operator, queue('b'), 1); // P holds a and waits for b (on S1)
  expect(await operator.exists(node('a'))).not.toBeNull();

  await expireSession(sharedConnectString(), pZk);
  // The new session's client: reads of b's holder by a holder-watch read, by a release and by the janitor
  // get CONNECTION_LOSS (not sent) while `blocked`.
  let blocked = true;
  const client = (pZk as unknown as { session: { client: Record<string, (...args: unknown[]) => void> } }).session.client;
  const getData = client.getData.bind(client);
  client.getData = (...args: unknown[]) => {
    const path = args[0] as string;
    const stack = new Error().stack ?? '';
    const fail = path === node('b') && (stack.includes('sendRead') || (blocked && stack.includes('readOwnership')));
    if (!fail) return getData(...args);
    const callback = args[args.length - 1] as (e: Error) => void;
    setImmediate(() => callback(clientError(CODES.CONNECTION_LOSS, path)));
  };
  await waitForChildren(operator, queue('b'), 1); // P's b waiter on S2
  await oBackend.release(heldB);

  // Attempt 2 queues for b (a new token: its waiter beside the first attempt's, which the janitor still
  // holds); then the connection is fine again, the janitor removes the first attempt's nodes, and
  // attempt 2 takes b with a holder node of its own.
  await waitForChildren(operator, queue('b'), 2);
  blocked = false;
  const grant = await pending;
  expect(grant.owned.holders).toEqual([node('a'), node('b')]);
  await drainJanitor(pBackend);

  // P's grant holds b: its holder node is there, and O cannot take b.
  const bHolder = await operator.exists(node('b'));
  const oTry = await oBackend.acquire({ ids: ['b'], scope: 'default', wait: 0 }).then(
    (g) => oBackend.release(g).then(() => 'O took b too'),
    (e: Error) => e.constructor.name,
  );
  expect({ bHolderThere: bHolder !== null, oTry }).toEqual({ bHolderThere: true, oTry: 'LockConflictError' });
  await pBackend.release(grant);
});
