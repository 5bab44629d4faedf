/**
 * Review 18b (mutation testing): "Bounded answers ... past that bound the caller gets LockConflictError;
 * the recipe gives up at its next step in the background". The answer bound (answerWithin) keeps the
 * caller's answer in time whatever the recipe does, so the specs on the bound pass even when the recipe
 * stops looking at its deadline between steps. This one looks at the recipe itself: when the listing of
 * the queue is answered only after the deadline, the waiter at the head must give up there, not go on to
 * create the holder node (a write past its deadline, which could take a free lock nobody will be given).
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { ClientFaults } from './support/client-faults';
import { cleanup, listTree, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

it('a waiter whose queue listing answers past its deadline sends no create of the holder', async () => {
  const namespace = uniqueNamespace('review18b-step');
  const operationTimeout = 1_500;
  const a = newLockService(await newService({ namespace }));
  const bZk = await newService({ namespace, operationTimeout });
  const b = newLockService(bZk);
  const holder = `${namespace}/default/job`;
  const held = await a.acquire('job'); // fail-fast holder: B will be at the head of the queue
  const faults = new ClientFaults(bZk);
  const wait = 300;
  faults.delayReply('getChildren', `${holder}%q`, wait + 700); // answered well past B's deadline, in its operation timeout
  const creates = faults.count('create');
  const outcome = await b.acquire('job', { wait }).then(
    (handle) => handle.release().then(() => 'granted'),
    (error) => (error instanceof LockConflictError ? 'conflict' : String(error)),
  );
  faults.restore();
  await held.release();
  expect({ outcome, holderCreates: creates.paths.filter((path) => path === holder) }).toEqual({ outcome: 'conflict', holderCreates: [] });
  expect(await listTree(bZk, `${namespace}/default`)).toEqual([]);
});
