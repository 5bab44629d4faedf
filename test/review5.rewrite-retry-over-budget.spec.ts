/**
 * Review 5: a handed-over holder's retried fencing rewrite fails with "ZooKeeper did not answer the read"
 * when the holder-watch budget is used up, although ZooKeeper answered everything and the rewrite was
 * applied: the read was never sent.
 *
 * rewriteHolder() takes a budget slot back from the old watch (`old.drop`) just before sendRead takes one,
 * so a first rewrite always finds one. A retried rewrite (after one whose setData got no answer) starts
 * from the watch that rewrite dropped, which holds no slot: when the process's other locks hold every slot
 * meanwhile (HOLDER_WATCHES_MAX locks, e.g. long-held ones), sendRead sends nothing and returns an
 * 'unarmed' watch with `sent: false`. rewriteHolder() does not look at `sent`: the setData succeeds
 * (`rewritten` = true), then the unarmed watch is taken for an unanswered read and fencingToken() rejects
 * with LockUnavailableError("ZooKeeper did not answer the read ... after rewriting it").
 *
 * Interleaving (one process, nobody else touches the node):
 *  1. A holds `id`; B waits right behind it and is handed the lock.
 *  2. B's first fencingToken(): the setData is applied, its caller is told OPERATION_TIMEOUT; rejects.
 *  3. The process's other locks take every holder-watch slot (emulated by lowering the budget's max to
 *     what is in use, which is what HOLDER_WATCHES_MAX held locks amount to).
 *  4. B's second fencingToken(): read (ours), rewrite: setData ok, watch read not sent (no slot).
 * fencingToken() rejects with LockUnavailableError, a false "did not answer"; a third call succeeds (the
 * node is marked rewritten), so the second was a spurious failure. LockHandle: "Costs at most one request
 * the first time ... rejects with LockLostError when lost" (a held lock whose requests all succeed gets
 * its token); the budget's own contract (holder-watch.ts): "Locks taken beyond the budget get no watch:
 * their release reads first, and their signal sets a watch when read (as before)" - slower, never failing.
 */
import { cleanup, uniqueNamespace } from './support/zookeeper';
import { warmSide, budgetOf, handedOver, settled, slowNextMulti } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r5budget');
});
const node = (id: string) => `${namespace}/default/${id}`;

it('gives a held lock its fencing token on a retried rewrite when no holder-watch slot is free', async () => {
  const { lock, zk, backend } = await warmSide(namespace);
  const second = await handedOver({ lock, backend }, 'b'); // handed over

  const applied = slowNextMulti(zk);
  const firstTry = await settled(second.fencingToken());
  await applied;
  expect(typeof firstTry).not.toBe('bigint'); // unknown: may be asked again

  const budget = budgetOf(backend);
  (budget as unknown as { max: number }).max = budget.inUse; // every slot held by the process's other locks

  const secondTry = await settled(second.fencingToken());
  const thirdTry = await settled(second.fencingToken());
  await second.release();
  expect(await zk.exists(node('b'))).toBeNull();
  expect(typeof thirdTry).toBe('bigint'); // the lock was held all along
  expect(typeof secondTry === 'bigint' ? 'token' : (secondTry as Error).message).toBe('token');
});
