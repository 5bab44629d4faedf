/**
 * review17a: a refused fail-fast limited acquire knows its answer (409: the limit is taken) as soon as its
 * join's listing is in, but acquireLimited's finally (lib/recipes/limited.recipe.ts:105-107) then awaits the
 * removal of its slot for up to a whole operationTimeout more (`settleWithin(leave, operationTimeout)`),
 * whatever is left of its own bound. The answer guard (zookeeper-lock.backend.ts answerWithin) fires at
 * one operationTimeout and answers LockUnavailableError, "ZooKeeper did not answer ... within
 * operationTimeout": a 503 for a lock that is simply held, although ZooKeeper answered everything asked
 * (join 600 ms, slot removal 900 ms, each within the 1 s operation timeout). @WithLock turns that into a
 * 503 instead of a 409 with Retry-After.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { LockService } from '../lib/lock/lock.service';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

it('answers a fail-fast limited acquire refused in time with a 409, not a 503', async () => {
  const namespace = uniqueNamespace('r17a-limc');
  const operationTimeout = 1_000;
  const a = newLockService(await newService({ namespace }));
  const held = await a.acquire('t', { limit: 1 });
  const { backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  await b.withLock('warm', () => undefined, { limit: 1 }); // B knows the scope dir
  const slots = `${namespace}/default/t%l/`;
  faults.delayReply('create', (path) => path.startsWith(slots), 600); // the join: answered, "waiting"
  faults.delayReply('remove', (path) => path.startsWith(slots), 900); // the refusal's removal of our slot
  const started = performance.now();
  const answer = await b.acquire('t', { limit: 1 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error,
  );
  const tookMs = Math.round(performance.now() - started);
  console.log(`refused fail-fast limited acquire answered after ${tookMs} ms: ${answer instanceof Error ? `${answer.constructor.name}: ${answer.message}` : answer}`);
  await drainJanitor(backend);
  await held.release();
  expect(tookMs).toBeLessThanOrEqual(operationTimeout + 300);
  expect(answer).toBeInstanceOf(LockConflictError);
});
