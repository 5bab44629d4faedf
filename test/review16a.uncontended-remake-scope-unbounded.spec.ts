/**
 * review16a: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`". The uncontended MULTI that finds its scope dir gone (NO_NODE: deleted by an
 * operator while no lock was held in it) makes the dir (ensureDir, now bounded by one operation timeout)
 * and sends the MULTI again, all inside tryUncontended (lib/recipes/uncontended.ts), with no look at the
 * caller's deadline: three requests in a row. Each is answered in time (900 ms late, 1 s operation timeout);
 * with a 100 ms wait the acquire answers after ~2.7 s.
 */
import { LockService } from '../lib/lock/lock.service';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, uniqueNamespace } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

it('answers a waiting acquire within wait + one operationTimeout when its scope dir must be made again', async () => {
  const namespace = uniqueNamespace('r16a-remake');
  const operationTimeout = 1_000;
  const wait = 100;
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const lock = new LockService(backend);
  await (await lock.acquire('warm', { scope: 'jobs', wait: 1_000 })).release(); // dir and containers known
  const scopeDir = `${namespace}/jobs`;
  await zk.remove(scopeDir); // an operator removes the (empty) scope dir
  const slow = 900; // every answer below comes within operationTimeout
  const original = zk.multi.bind(zk);
  const late = <T>(p: Promise<T>) =>
    new Promise<T>((resolve, reject) => p.then((v) => setTimeout(() => resolve(v), slow), (e) => setTimeout(() => reject(e), slow)));
  jest.spyOn(zk, 'multi').mockImplementation((ops, onSession) => late(original(ops, onSession)));
  faults.delayReply('create', namespace, slow / 2); // ensureDir's mkdirp: the namespace (NODE_EXISTS) ...
  faults.delayReply('create', scopeDir, slow / 2); // ... then the scope dir
  const started = performance.now();
  const outcome = await lock.acquire('nightly', { scope: 'jobs', wait }).then(
    async (handle) => {
      const answered = performance.now();
      jest.restoreAllMocks();
      await handle.release();
      return { answer: 'granted', at: answered };
    },
    (error: Error) => ({ answer: error.constructor.name, at: performance.now() }),
  );
  jest.restoreAllMocks();
  const tookMs = Math.round(outcome.at - started);
  console.log(`waiting acquire answered ${outcome.answer} after ${tookMs} ms (bound ${wait + operationTimeout} ms)`);
  await drainJanitor(backend);
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 300);
});
