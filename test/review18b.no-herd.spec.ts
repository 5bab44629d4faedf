/**
 * Review 18b (mutation testing): "the waiter joins the id's queue with a sequential node and watches only
 * the waiter before it (or, first in line, the holder node), so a release wakes one process, not all".
 * unit/lock-queue checks the pure choice of the predecessor; no spec checked that the recipe waits on it:
 * with waiters behind the head watching the holder node instead (a herd), every spec of the queue passed
 * but one that hung on an internal read. Here C waits second in line; A's release (the lock passes to B)
 * must not wake C, so C lists the queue once in all: when B, right before it, leaves.
 */
import { ClientFaults } from './support/client-faults';
import { lockSide } from './support/locks';
import { cleanup, listTree, uniqueNamespace, waitForChildren } from './support/zookeeper';

const faults: ClientFaults[] = [];
afterEach(async () => {
  for (const f of faults.splice(0)) f.restore();
  await cleanup();
});

it('a release wakes only the next waiter: the one behind it lists the queue once, when its predecessor goes', async () => {
  const namespace = uniqueNamespace('review18b-herd');
  const holder = `${namespace}/default/h`;
  const queue = `${holder}%q`;
  const a = await lockSide(namespace);
  const b = await lockSide(namespace);
  const c = await lockSide(namespace);

  const held = await a.lock.acquire('h'); // fail-fast holder
  const bTaking = b.lock.acquire('h', { wait: 20_000 });
  await waitForChildren(a.zk, queue, 1);

  // C queues second; once its wait is armed (the read that sets its watch is answered), count its listings.
  const cFaults = new ClientFaults(c.zk);
  faults.push(cFaults);
  let listings: { readonly calls: number } | undefined;
  let armed!: () => void;
  const cWaits = new Promise<void>((resolve) => (armed = resolve));
  cFaults.onReply('getData', (p) => p === holder || p.startsWith(`${queue}/`), () => {
    listings = cFaults.count('getChildren');
    armed();
  });
  const cTaking = c.lock.acquire('h', { wait: 20_000 });
  await cWaits;

  await held.release(); // the lock passes to B; C, behind B, has nothing to do
  const bHandle = await bTaking;
  await bHandle.release(); // now C is first: it wakes, lists the queue once, and takes the lock
  const cHandle = await cTaking;
  const cListings = listings!.calls;
  await cHandle.release();
  expect(cListings).toBe(1);
  expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
});
