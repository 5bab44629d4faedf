/**
 * Review 3: a release that races a handed-over holder's first fencingToken() leaves the holder node behind.
 *
 * Interleaving (one process, one session):
 *  1. A holds `id` (uncontended); B waits behind it in the same process and is handed the lock on A's
 *     release (hand-off.ts): B's grant has `holderToken` (A's) and needs a fencing rewrite.
 *  2. The connection blips (same session): B's inherited holder watch no longer vouches (epoch changed).
 *  3. B calls fencingToken() and then, in the same tick, release() (e.g. a withLock body that asks for
 *     its token and returns without awaiting it; or a maxHold revoke; or a caller giving up on the token).
 *     fencingToken() takes the read path: getData(holder) is sent. `owned.rewriting` is not set yet: it
 *     is only set once that read has answered and rewriteHolder() starts.
 *  4. release(): releaseNodes() sees no rewrite under way, releaseNow() marks the grant done and, since the
 *     watch does not vouch, releaseRead() sends its reads (behind fencingToken's getData).
 *  5. fencingToken's read answers first; nothing looks at `owned.done` any more: rewriteHolder() sends a
 *     setData at version v (node -> v+1), ahead of the release's delete.
 *  6. The release's reads saw version v; its versioned delete fails BAD_VERSION, which removeRead treats
 *     as "not ours to delete": the holder node is skipped, and release() resolves as if all went well.
 * The ephemeral holder node, carrying our token and our session, stays for as long as the session lives:
 * every fail-fast acquire gets 409, every waiter waits for ever, while nobody holds the lock. The rewrite's
 * new holder watch (armed, on that node) also keeps its HolderWatchBudget unit for the session's life.
 */
import { ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, uniqueNamespace, waitForState } from './support/zookeeper';
import { warmSide, budgetOf, handedOver } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r3fence');
});
const node = (id: string) => `${namespace}/default/${id}`;

async function blip(zk: ZookeeperService): Promise<void> {
  const session = zk.sessionId;
  const suspended = waitForState(zk, 'suspended');
  (zk as unknown as { session: { dropConnection(): void } }).session.dropConnection();
  await suspended;
  await waitForState(zk, 'connected');
  expect(zk.sessionId).toBe(session); // the same session: its nodes (our holder) live on
}

it('frees the lock when a handed-over holder releases while its first fencingToken() is in flight (after a reconnect)', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const other = await warmSide(namespace);
  const second = await handedOver({ lock, backend }, 'race');
  await blip(zk);

  const token = second.fencingToken().then(
    (t) => t,
    (e: unknown) => e,
  );
  await second.release();
  await token;

  // Released: nobody holds the lock, so another process gets it at once.
  expect(await zk.exists(node('race'))).toBeNull();
  const next = await other.lock.acquire('race'); // rejects with LockConflictError while the node is left
  await next.release();
  expect(budgetOf(backend).inUse).toBe(0);
});
