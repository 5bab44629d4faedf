/**
 * Review 16b: a waiting limited acquire whose first join create gets no reply (it lands late, after the
 * read-back by token missed it) joins again and waits. The late create lands while it waits: a slot
 * `l1-<token>-<seq>` with B's token on B's live session. B then gives up (abort). acquireLimited's finally
 * removes only `own` (leaveSlots) and calls the janitor only for `doubtful`, which was reset after the
 * second join; `strayPossible` is consulted only by a grant. So the stray slot stays: once O releases, it
 * is the first slot and HOLDS the limit-1 lock for everyone, for as long as B's session lives.
 */

import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review16b');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const slots = (id: string) => `${namespace}/default/${id}%l`;

it('a limited waiter that gives up after its first join create landed late leaves no stray slot holding the lock', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  const held = await o.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 });
  const late = b.faults.delayRequest('create', (path) => path.startsWith(`${slots('t')}/l1-`));
  const abort = new AbortController();
  const pending = b.backend.acquire({ ids: ['t'], scope: 'default', wait: 20_000, limit: 1, signal: abort.signal });
  const outcome = pending.then(
    () => 'granted',
    (e: Error) => e.message,
  );
  await late.intercepted;
  await waitForChildren(operator, slots('t'), 2); // O's slot and B's second one
  await late.send(); // the first create lands now, behind B's second slot
  await waitForChildren(operator, slots('t'), 3);

  abort.abort(new Error('caller went away'));
  expect(await outcome).toBe('caller went away');
  await drainJanitor(b.backend);

  await o.backend.release(held);
  await drainJanitor(o.backend);

  // Every lock released, nobody waits (B's session lives on): C must get the limit-1 lock.
  const left = await operator.getChildren(slots('t')).catch(() => []);
  const cTry = await c.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 }).then(
    (g) => c.backend.release(g).then(() => 'took it'),
    (e: Error) => e.constructor.name,
  );
  expect({ left, cTry }).toEqual({ left: [], cTry: 'took it' });
});
