/**
 * review16a: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`". enqueue() (lib/recipes/queued.recipe.ts) chains, with no look at the deadline in
 * between: the waiter create (NO_NODE: no queue yet, the usual case behind a fail-fast holder), the queue's
 * create, and the waiter create again. The two waiter creates' replies come 900 ms late each with a 1 s
 * operation timeout (every single request answers in time); with a 100 ms wait the acquire answers only
 * after ~1.8 s (and ~2.7 s when the queue's create is slow too).
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { LockService } from '../lib/lock/lock.service';

afterEach(restoreSideFaults);
afterAll(cleanup);

it('answers a waiting acquire within wait + one operationTimeout when enqueueing is slow', async () => {
  const namespace = uniqueNamespace('r16a-enq');
  const operationTimeout = 1_000;
  const wait = 100;
  const a = newLockService(await newService({ namespace }));
  const held = await a.acquire('job'); // fail-fast holder: no queue exists
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  // B's scope dir is known first (a lock of another id), so only the queue steps are slow.
  await (await b.acquire('other', { wait: 1_000 })).release();
  const queue = `${namespace}/default/job%q`;
  const slow = 900; // each within operationTimeout
  const waiterCreate = (p: string) => p.startsWith(`${queue}/w-`);
  faults.delayReply('create', waiterCreate, slow); // NO_NODE: no queue yet
  // (the queue's own create, a container, goes through another client call and is answered at once)
  faults.delayReply('create', waiterCreate, slow); // the waiter again
  const started = performance.now();
  const outcome = await b.acquire('job', { wait }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error) => (error instanceof LockConflictError ? 'conflict' : String(error)),
  );
  const tookMs = Math.round(performance.now() - started);
  console.log(`waiting acquire answered ${outcome} after ${tookMs} ms (bound ${wait + operationTimeout} ms)`);
  await held.release();
  await drainJanitor(backend);
  expect(outcome).toBe('conflict');
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 300);
  // Nothing of it left: no waiter node in the queue (the queue itself goes with its last waiter).
  const queued = await zk.getChildren(queue).catch(() => [] as string[]);
  expect(queued).toEqual([]);
});
