/**
 * review17a: the backend answer guard (answerWithin, lib/recipes/zookeeper-lock.backend.ts) answers every
 * waiting acquire it cuts off with LockConflictError ("its wait is over, as the recipe would say at its
 * next step"). But a waiting acquire may have been aborted long before its deadline: by its caller's
 * signal (README "Waiting": "abort gives the signal's reason"), or by the shutdown (README "Shutdown":
 * "new and waiting acquires fail with LockUnavailableError (503 from @WithLock)"; shutdown-gate.ts: "a
 * 503, so a load balancer retries elsewhere"). The recipe, when it reaches its next step, answers that
 * reason; the guard, firing first while the recipe is inside a chain of slow requests (enqueue: waiter
 * create NO_NODE, queue create, waiter create, each answered within operationTimeout), answers 409.
 */
import { LockConflictError, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { LockService } from '../lib/lock/lock.service';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

afterEach(restoreSideFaults);
afterAll(cleanup);

const operationTimeout = 1_000;
const wait = 100;
const slow = 900; // each reply well within operationTimeout

/** Resolves when `zk.create` is first called for a path matching `match`. */
function createSent(zk: ZookeeperService, match: (path: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const original = zk.create.bind(zk);
    const spy = jest.spyOn(zk, 'create').mockImplementation(((path: string, ...rest: unknown[]) => {
      if (match(path)) {
        spy.mockRestore();
        resolve();
      }
      return (original as (...a: unknown[]) => unknown)(path, ...rest);
    }) as never);
  });
}

async function setUp(label: string) {
  const namespace = uniqueNamespace(label);
  const a = newLockService(await newService({ namespace }));
  const held = await a.acquire('job'); // fail-fast holder: no queue yet
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  await (await b.acquire('other', { wait: 1_000 })).release(); // B knows the scope dir
  const queue = `${namespace}/default/job%q`;
  const waiterCreate = (p: string) => p.startsWith(`${queue}/w-`);
  faults.delayReply('create', waiterCreate, slow); // NO_NODE: no queue yet
  faults.delayReply('create', waiterCreate, slow); // the waiter again, after the queue's create
  return { held, backend, b, enqueueing: createSent(zk, waiterCreate) };
}

const describeError = (error: unknown) => (error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error));

it('answers an acquire aborted by its caller with the abort reason, not a 409', async () => {
  const { held, backend, b, enqueueing } = await setUp('r17a-abort');
  const abort = new AbortController();
  const reason = new Error('the caller went away');
  const started = performance.now();
  const outcome = b.acquire('job', { wait, signal: abort.signal }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error: unknown) => error,
  );
  await enqueueing; // the recipe is in enqueue's chain of creates now
  abort.abort(reason); // long before its deadline
  const answer = await outcome;
  console.log(`aborted acquire answered after ${Math.round(performance.now() - started)} ms with ${describeError(answer)}`);
  await drainJanitor(backend);
  await held.release();
  expect(answer).not.toBeInstanceOf(LockConflictError);
  expect(answer).toBe(reason);
});

it('answers a waiting acquire refused by the shutdown with LockUnavailableError (503), not a 409', async () => {
  const { held, backend, b, enqueueing } = await setUp('r17a-shutdown');
  const started = performance.now();
  const outcome = b.acquire('job', { wait }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error: unknown) => error,
  );
  await enqueueing;
  const shutdown = b.beforeApplicationShutdown(); // the gate closes: queued acquires end with 503
  const answer = await outcome;
  console.log(`acquire refused by the shutdown answered after ${Math.round(performance.now() - started)} ms with ${describeError(answer)}`);
  await shutdown;
  await drainJanitor(backend);
  await held.release();
  expect(answer).not.toBeInstanceOf(LockConflictError);
  expect(answer).toBeInstanceOf(LockUnavailableError);
});
