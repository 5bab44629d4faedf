/**
 * Review 14: a multi-id waiting acquire that starts over (acquireEach: the session holding its first ids
 * ended, a later id was granted on the new one) frees what it took on the new session with a release
 * that is NOT bounded by the wait's answer budget: `await this.releaseQuietly(...)` in the restart branch
 * of acquireEach has no settleWithin (the error branch has). A release that meets an unanswering server
 * takes up to two operation timeouts (its read, then one for the janitor), so an acquire whose last id is
 * granted just before its deadline answers up to two operation timeouts past it, not within
 * `wait` + one operation timeout (README, "Bounded answers").
 *
 * Interleaving (P multi-acquires [a, b] with wait W, O holds b):
 *  1. P takes a on session S1 and queues for b; S1 expires; P's b waiter queues again on S2.
 *  2. Just before P's deadline O releases b; P takes b on S2 (its holder-watch read fails: no watch).
 *  3. a (S1) and b (S2) differ: acquireEach releases b, unbounded. The release's read of b gets no answer
 *     (one operation timeout), then the release waits one more for the janitor.
 *  4. Only then does attempt 2 start, see the deadline passed, and answer LockConflictError.
 */
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { clientError, CODES } from './support/client-faults';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { drainJanitor } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review14');
});
afterEach(async () => {
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;
const queue = (id: string) => `${node(id)}%q`;

it('answers a multi-id acquire that starts over within wait + one operation timeout, however long the restart\'s release takes', async () => {
  const operationTimeout = 1_000;
  const wait = 6_000;
  const oZk = await newService({ namespace });
  const oBackend = new ZookeeperLockBackend(oZk);
  const pZk = await newService({ namespace, operationTimeout });
  const pBackend = new ZookeeperLockBackend(pZk);
  const operator = await newService();

  const heldB = await oBackend.acquire({ ids: ['b'], scope: 'default', wait: 0 });
  const started = performance.now();
  const pending = pBackend.acquire({ ids: ['a', 'b'], scope: 'default', wait }).then(
    (grant) => ({ outcome: 'granted', grant }),
    (error: Error) => ({ outcome: error.constructor.name, grant: undefined }),
  );
  await waitForChildren(operator, queue('b'), 1); // P holds a and waits for b (on S1)

  await expireSession(sharedConnectString(), pZk);
  // On the new session: the holder-watch read of b fails at once (no watch: the release must read), and
  // the reads of b that check ownership (the release's, the janitor's) get no answer while `blocked`.
  let blocked = true;
  const client = (pZk as unknown as { session: { client: Record<string, (...args: unknown[]) => void> } }).session.client;
  const getData = client.getData.bind(client);
  client.getData = (...args: unknown[]) => {
    const path = args[0] as string;
    const stack = new Error().stack ?? '';
    if (path === node('b') && stack.includes('sendRead')) {
      const callback = args[args.length - 1] as (e: Error) => void;
      setImmediate(() => callback(clientError(CODES.CONNECTION_LOSS, path)));
      return;
    }
    if (path === node('b') && blocked && stack.includes('readOwnership')) return; // never answered
    return getData(...args);
  };
  await waitForChildren(operator, queue('b'), 1); // P's b waiter on S2

  // O lets b go shortly before P's deadline: P is granted b on S2 in time.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + wait - 400 - performance.now())));
  await oBackend.release(heldB);

  const result = await pending;
  const answeredAfter = performance.now() - started;
  blocked = false;
  await drainJanitor(pBackend);
  if (result.grant) await pBackend.release(result.grant);

  // Within wait + one operation timeout (plus 450 ms for the test's own round trips on a loaded machine; unbounded: ~7700).
  expect(result.outcome).toBe('LockConflictError');
  expect(Math.round(answeredAfter)).toBeLessThanOrEqual(wait + operationTimeout + 450);
});
