/**
 * review16a: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`". After an uncontended MULTI with no answer in time (OPERATION_TIMEOUT after one
 * operationTimeout, the deadline long past), acquireQueued (lib/recipes/queued.recipe.ts) still reads the
 * holder (holdsAfterDoubt) before it looks at its deadline: a second request of up to one operationTimeout.
 * Here that read is answered 900 ms late (in time), with a 1 s operation timeout and a 100 ms wait: the
 * acquire answers after ~1.9 s.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { ZookeeperError } from '../lib/zookeeper/zookeeper.error';
import { LockService } from '../lib/lock/lock.service';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

it('answers within wait + one operationTimeout after an uncontended MULTI that got no answer', async () => {
  const namespace = uniqueNamespace('r16a-doubt');
  const operationTimeout = 1_000;
  const wait = 100;
  const a = newLockService(await newService({ namespace }));
  const held = await a.acquire('job'); // someone else holds it
  const { zk, backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  await (await b.acquire('other', { wait: 1_000 })).release(); // scope dir and containers known: the MULTI is tried
  // The MULTI gets no answer within operationTimeout (the service's own timeout answers it then).
  const original = zk.multi.bind(zk);
  jest.spyOn(zk, 'multi').mockImplementationOnce((ops, onSession) => {
    const sent = original(ops, onSession);
    sent.catch(() => undefined);
    return new Promise((_, reject) =>
      setTimeout(() => reject(new ZookeeperError('OPERATION_TIMEOUT', 'no answer in time', ops[0]?.path)), operationTimeout),
    );
  });
  const holder = `${namespace}/default/job`;
  faults.delayReply('getData', holder, 0); // the holder watch's read sent with the MULTI
  faults.delayReply('getData', holder, 900); // holdsAfterDoubt's read: in time, but late
  const started = performance.now();
  const outcome = await b.acquire('job', { wait }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error) => (error instanceof LockConflictError ? 'conflict' : String(error)),
  );
  const tookMs = Math.round(performance.now() - started);
  console.log(`waiting acquire answered ${outcome} after ${tookMs} ms (bound ${wait + operationTimeout} ms)`);
  await held.release();
  await drainJanitor(backend);
  expect(['conflict', 'LockUnavailableError']).toContain(outcome.replace(/:.*/, ''));
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 300);
});
