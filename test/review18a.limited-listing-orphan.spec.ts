/**
 * review18a: README "Unknown outcomes": "Nothing is orphaned"; "Nothing left behind"; limits: "A crashed
 * holder's slot frees with its session", and a caller that fails "leaves nothing taken".
 *
 * acquireLimited's join (lib/recipes/limited.recipe.ts:152-155, and the MULTI at :157-168) creates our slot, then lists the container
 * (the pipelined listing, else a fresh one in listedWith, :185-188). When the create is ANSWERED (our slot
 * exists, its path known) but the listing fails with an error that is not "outcome unknown" (here
 * THROTTLED_OP, a server under load: connectivity, transient, but not CONNECTION_LOSS/OPERATION_TIMEOUT),
 * join throws before `own` is set (:59-63), and the catch (:91-97) records no doubt
 * (`error.outcomeUnknown` is false): the finally (:103-116) has neither `own` nor `doubtful`, and the slot
 * we made stays, counted by everyone, for as long as our session lives. With limit 1 it is first: it holds
 * the limit for nobody. Fail-fast: our caller gets a 503, and every other caller a 409 from then on.
 * Waiting: the recipe retries and joins again (its own orphan ahead does not stop it), and its release
 * leaves the orphan: the limit is then held against everyone else for the rest of the session.
 */
import { LockUnavailableError } from 'nestjs-zookeeper-lock';
import { LockService } from '../lib/lock/lock.service';
import { CODES } from './support/client-faults';
import { newLockService, backendSide, drainJanitor, restoreSideFaults } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(restoreSideFaults);
afterAll(cleanup);

async function setup(label: string) {
  const namespace = uniqueNamespace(label);
  const operator = await newService({ namespace });
  const a = newLockService(await newService({ namespace }));
  const { backend, faults } = await backendSide(namespace);
  const b = new LockService(backend);
  await b.withLock('warm', () => undefined, { limit: 1 }); // B knows the scope dir
  return { namespace, operator, a, b, backend, faults, dir: `${namespace}/default/t%l` };
}

it('leaves no slot behind when a fail-fast limited join is answered but its listing is throttled', async () => {
  const { operator, a, b, backend, faults, dir } = await setup('r18a-limo');
  // No container yet: the create fails NO_NODE (its pipelined listing: throttle 1), the MULTI making
  // container and slot is applied and answered, and the listing behind it and the fresh one are throttled.
  faults.answerWith('getChildren', dir, CODES.THROTTLED_OP, 3);
  const answer = await b.acquire('t', { limit: 1 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error,
  );
  await drainJanitor(backend);
  const left = await operator.getChildren(dir).catch(() => [] as string[]);
  const other = await a.acquire('t', { limit: 1 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error,
  );
  console.log(`B answered ${answer instanceof Error ? answer.constructor.name : answer}; slots left: ${JSON.stringify(left)}; A then: ${other instanceof Error ? other.constructor.name : other}`);
  // B's node was made: B lists again and holds (the lock is free), or gives up with a 503 and removes it.
  if (answer !== 'taken') expect(answer).toBeInstanceOf(LockUnavailableError);
  expect(left).toEqual([]); // nothing of B's left
  expect(other).toBe('taken'); // nobody holds the lock: A gets it
});

it('leaves no slot behind when a waiting limited join is answered but its listing is throttled', async () => {
  const { operator, a, b, backend, faults, dir } = await setup('r18a-limw');
  faults.answerWith('getChildren', dir, CODES.THROTTLED_OP, 3); // as above
  const started = performance.now();
  const answer = await b.acquire('t', { limit: 1, wait: 3_000 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error,
  );
  const tookMs = Math.round(performance.now() - started);
  await drainJanitor(backend);
  const left = await operator.getChildren(dir).catch(() => [] as string[]);
  const other = await a.acquire('t', { limit: 1 }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error,
  );
  console.log(`B (wait 3 s) answered ${answer instanceof Error ? answer.constructor.name : answer} after ${tookMs} ms and released; slots left: ${JSON.stringify(left)}; A then: ${other instanceof Error ? other.constructor.name : other}`);
  expect(answer).toBe('taken'); // (B joined again, and its own orphan ahead does not stop it)
  expect(left).toEqual([]); // but the orphan stays after B's release
  expect(other).toBe('taken'); // and holds the limit against everyone else
});
