/**
 * review16a: WaitLimits.deadline is `performance.now()`, "monotonic: a wall-clock step changes no wait"
 * (lib/recipes/queued.recipe.ts), and README ("Bounded answers") says a waiting acquire answers within
 * `wait` plus at most one `operationTimeout`. But the timer that ends a wait, setLongTimeout
 * (lib/recipes/long-timeout.ts), measures its due time with Date.now(): when the wall clock steps back
 * while a caller waits (an NTP step, a VM resumed and re-synced), the timer fires on time, finds the
 * wall-clock due time still ahead, and re-arms itself for the size of the step. Here a 300 ms wait
 * against a held lock, with the clock stepped back 60 s while it waits, has not answered 3 s later (it
 * would after ~60 s); the spec then aborts it to clean up.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { LockService } from '../lib/lock/lock.service';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { handOffsOf } from './support/hand-offs';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(() => {
  jest.restoreAllMocks();
  restoreSideFaults();
});
afterAll(cleanup);

it('ends a waiting acquire at its deadline when the wall clock steps back meanwhile', async () => {
  const namespace = uniqueNamespace('r16a-clock');
  const operationTimeout = 1_000;
  const wait = 300;
  const a = newLockService(await newService({ namespace }));
  const held = await a.acquire('job'); // held by another process for the whole test
  const { backend, faults } = await backendSide(namespace, { operationTimeout });
  const b = new LockService(backend);
  const realNow = Date.now.bind(Date);
  let step = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + step);

  // B, first in the queue, offers itself for a hand-over just before it reads (and watches) the holder node:
  // the next read of the holder is the one after which it arms its timer.
  const handOffs = handOffsOf(backend);
  const spy = jest.spyOn(handOffs, 'offer');
  const armed = new Promise<void>((resolve) => {
    spy.mockImplementation((...args: unknown[]) => {
      spy.mockRestore();
      faults.onReply('getData', `${namespace}/default/job`, () => setImmediate(resolve));
      return handOffs.offer(...args);
    });
  });
  const controller = new AbortController();
  const started = performance.now();
  const answer = b.acquire('job', { wait, signal: controller.signal }).then(
    (handle) => handle.release().then(() => ({ outcome: 'granted', at: performance.now() })),
    (error) => ({ outcome: error instanceof LockConflictError ? 'conflict' : String(error), at: performance.now() }),
  );
  await armed; // B's timer is set (the reply's promise callbacks ran before this immediate)
  const longTimers: number[] = []; // timers of about the step's size set from now on (the re-armed wait)
  const realSetTimeout = global.setTimeout;
  jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number, ...args: unknown[]) => {
    if ((ms ?? 0) >= 50_000) longTimers.push(ms as number);
    return (realSetTimeout as unknown as (...a: unknown[]) => NodeJS.Timeout)(fn, ms, ...args);
  }) as typeof setTimeout);
  step = -60_000;

  const bound = wait + operationTimeout;
  const first = await Promise.race([answer, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), bound + 2_000))]);
  console.log(
    first === undefined
      ? `no answer ${bound + 2_000} ms after a ${wait} ms wait began (bound ${bound} ms); timers re-armed for ${JSON.stringify(longTimers)} ms`
      : `answered ${first.outcome} after ${Math.round(first.at - started)} ms`,
  );
  controller.abort(new Error('test cleanup')); // ends the stuck wait
  step = 0;
  await answer;
  await held.release();
  await drainJanitor(backend);
  expect(first).toBeDefined();
  expect(first!.outcome).toBe('conflict');
  expect(first!.at - started).toBeLessThanOrEqual(bound + 300);
});
