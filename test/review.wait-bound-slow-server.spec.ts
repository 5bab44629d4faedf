/**
 * review2 finding: README ("Bounded answers"): "a waiting acquire [answers] within `wait` plus at most one
 * `operationTimeout`". acquireQueued checks its deadline only at the top of its loop; one pass can chain
 * several requests (list the queue, create the holder, read the holder to watch it), each answered just
 * under operationTimeout by a slow (not frozen) server, so the answer comes several operation timeouts
 * after `wait`. The faults delay three real replies, each by less than operationTimeout.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

it('answers a waiting acquire within wait + one operationTimeout when the server is slow, not frozen', async () => {
  const namespace = uniqueNamespace('r2-slow');
  const operationTimeout = 1_500;
  const a = newLockService(await newService({ namespace }));
  const bZk = await newService({ namespace, operationTimeout });
  const b = newLockService(bZk);
  const holder = `${namespace}/default/job`;
  const held = await a.acquire('job'); // fail-fast holder: B will find it at the head of the queue
  const faults = new ClientFaults(bZk);
  const slow = operationTimeout - 200; // every one of these answers arrives in time
  faults.delayReply('getChildren', `${holder}%q`, slow); // B lists the queue (it is at the head)
  faults.delayReply('create', holder, slow); // B tries the holder: NODE_EXISTS, slowly
  faults.delayReply('getData', holder, slow); // B reads the holder to watch it, slowly
  const wait = 300;
  const started = performance.now();
  const outcome = await b.acquire('job', { wait }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error) => (error instanceof LockConflictError ? 'conflict' : String(error)),
  );
  const tookMs = Math.round(performance.now() - started);
  await held.release();
  expect(outcome).toBe('conflict');
  expect(tookMs).toBeLessThanOrEqual(wait + operationTimeout + 200); // 200 ms of slack for a loaded machine
});
