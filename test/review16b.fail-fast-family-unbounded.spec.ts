/**
 * Review 16b: README ("Bounded answers"): "A fail-fast acquire answers (taken, 409 or 503) within
 * `operationTimeout`". Review 14 gave the exclusive fail-fast acquire a deadline; the other fail-fast
 * acquires have none:
 * - shared (joinSharedFailFast, shared.recipe.ts): joining an existing group is two MULTIs one after the
 *   other (the group MULTI fails NODE_EXISTS, then createMember's gate-checking MULTI), each allowed a
 *   whole operation timeout;
 * - limited (acquireLimited with no limits, limited.recipe.ts): the join's create, then, when refused, the
 *   removal of our slot, awaited for up to another operationTimeout (settleWithin(leave, operationTimeout)).
 * Against a slow (not frozen) server, every request answered in time, the acquire answers late.
 */
import { LockService } from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

type RawMulti = (ops: unknown[], callback: (...reply: unknown[]) => void) => void;

/** The real replies of the service's next `count` MULTIs reach it `ms` late (the requests are applied at once). */
function delayMultiReplies(zk: ZookeeperService, count: number, ms: number): void {
  const session = (zk as unknown as { session: { multi: RawMulti } }).session;
  const original = session.multi;
  let left = count;
  session.multi = (ops, callback) => {
    if (--left <= 0) session.multi = original;
    original.call(session, ops, (...reply: unknown[]) => setTimeout(() => callback(...reply), ms));
  };
}

const operationTimeout = 1_000;
const slow = 900; // every single answer arrives well within operationTimeout

async function sides(label: string) {
  const namespace = uniqueNamespace(label);
  const a = await newService({ namespace, operationTimeout });
  const b = await newService({ namespace, operationTimeout });
  return { namespace, a: new LockService(new ZookeeperLockBackend(a)), b: new LockService(new ZookeeperLockBackend(b)), bZk: b };
}

it('answers a fail-fast shared acquire that joins a group within one operationTimeout when the server is slow', async () => {
  const { a, b, bZk } = await sides('r16b-shared');
  const held = await a.acquire('g', { shared: true });
  await b.withLock('warm', () => undefined, { shared: true }); // B knows the scope dir and its mark
  delayMultiReplies(bZk, 2, slow);
  const started = performance.now();
  const answer = await b.acquire('g', { shared: true }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error.constructor.name,
  );
  const tookMs = Math.round(performance.now() - started);
  await held.release();
  expect(['taken', 'LockUnavailableError']).toContain(answer);
  expect(tookMs).toBeLessThanOrEqual(operationTimeout + 400); // unbounded: ~1800
});

it('answers a refused fail-fast limited acquire within one operationTimeout when the server is slow', async () => {
  const { namespace, a, b, bZk } = await sides('r16b-limited');
  const held = await a.acquire('t', { limit: 1 });
  await b.withLock('warm', () => undefined, { limit: 1 }); // B knows the scope dir
  const faults = new ClientFaults(bZk);
  const slots = `${namespace}/default/t%l/`;
  faults.delayReply('create', (path) => path.startsWith(slots), slow); // the join
  faults.delayReply('remove', (path) => path.startsWith(slots), slow); // the refusal's removal of our slot
  const started = performance.now();
  const answer = await b.acquire('t', { limit: 1 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error.constructor.name,
  );
  const tookMs = Math.round(performance.now() - started);
  faults.restore();
  await held.release();
  expect(['LockConflictError', 'LockUnavailableError']).toContain(answer);
  expect(tookMs).toBeLessThanOrEqual(operationTimeout + 400); // unbounded: ~1800
});
