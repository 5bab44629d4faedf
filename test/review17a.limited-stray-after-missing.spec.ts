/**
 * review17a: acquireLimited (lib/recipes/limited.recipe.ts:61) keeps `strayPossible` across a re-join only
 * when `own` is still set: `strayPossible = doubtful === joined.sessionId || (strayPossible &&
 * own?.sessionId === joined.sessionId)`. But the "missing" branch (line 78-81: someone deleted our slot
 * while our session lives) sets `own = undefined` before it joins again on the SAME session, so a stray
 * seen possible earlier (a first join create whose reply was lost and that the read-back by token missed)
 * is forgotten. That create lands: a slot `l1-<token>-<seq>` on B's live session that no acquisition
 * owns, which B's grant and release never sweep. Once B released, the stray is the first slot and HOLDS
 * the limit-1 lock for everyone, for as long as B's session lives.
 */
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r17a-lim');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const slots = (id: string) => `${namespace}/default/${id}%l`;

it('a limited waiter whose slot is deleted after a doubtful join still sweeps the stray that lands later', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  const held = await o.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 });
  const [oSlot] = await operator.getChildren(slots('t'));
  // B's first join create gets no reply (held back): B looks by token, finds nothing, joins again.
  const late = b.faults.delayRequest('create', (path) => path.startsWith(`${slots('t')}/l1-`));
  const pending = b.backend.acquire({ ids: ['t'], scope: 'default', wait: 20_000, limit: 1 });
  await late.intercepted;
  const two = await waitForChildren(operator, slots('t'), 2); // O's slot and B's second one
  const bSlot = two.find((name) => name !== oSlot)!;
  // Someone (an operator) deletes B's slot while B's session lives: B joins again when it next looks.
  await operator.remove(`${slots('t')}/${bSlot}`);
  // The first create lands now: a slot with B's token.
  await late.send();
  await waitForChildren(operator, slots('t'), 2); // O's slot and the stray
  await o.backend.release(held); // B wakes, finds its slot missing, joins again on the same session
  const grant = (await pending) as ZookeeperGrant;
  console.log(`B holds ${grant.owned.nodes.join(', ')}; strays to sweep: ${JSON.stringify(grant.owned.strays ?? [])}`);

  await b.backend.release(grant);
  await drainJanitor(b.backend);
  await drainJanitor(o.backend);

  // Every lock released, nobody waits (B's session lives on): C must get the limit-1 lock.
  const left = await operator.getChildren(slots('t')).catch(() => []);
  const cTry = await c.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 }).then(
    (g) => c.backend.release(g).then(() => 'took it'),
    (e: Error) => e.constructor.name,
  );
  console.log(`left in the container: ${JSON.stringify(left)}; C: ${cTry}`);
  expect({ left, cTry }).toEqual({ left: [], cTry: 'took it' });
});
