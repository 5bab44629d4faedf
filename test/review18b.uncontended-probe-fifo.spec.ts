/**
 * Review 18b (mutation testing): "Waiting ... one atomic MULTI creates the id's queue node and deletes it
 * again (a probe: it fails with NODE_EXISTS when a queue exists, that is when someone waits) ... So it never
 * overtakes a caller already queued." The uncontended specs only queue callers behind a HELD lock, where
 * the holder create fails anyway, so a MULTI without the probe passes them. The probe matters in the
 * moment the lock is FREE while someone waits: the holder released, and the waiter at the head has not yet
 * made its holder node. Here that moment is held open at B's client (its holder create is held back, not
 * sent, until the test lets it go), and C's uncontended waiting acquire comes then: it must queue behind B.
 */
import type { ZookeeperService } from 'nestjs-zookeeper-lock';
import { lockSide } from './support/locks';
import { cleanup, listTree, uniqueNamespace, waitForChildren } from './support/zookeeper';

afterEach(cleanup);

type AnyFn = (...args: unknown[]) => void;

/**
 * B's creates of `path`: the first goes through (`first` resolves once it was answered); the next ones
 * are held back, unsent, until `let()` (`held` resolves when one is).
 */
function holdSecondCreate(zk: ZookeeperService, path: string): { first: Promise<void>; held: Promise<void>; let(): void } {
  const client = (zk as unknown as { session: { client: Record<string, unknown> } }).session.client;
  const original = (client.create as AnyFn).bind(client);
  let firstDone!: () => void;
  const first = new Promise<void>((resolve) => (firstDone = resolve));
  let heldSeen!: () => void;
  const held = new Promise<void>((resolve) => (heldSeen = resolve));
  let go!: () => void;
  const gone = new Promise<void>((resolve) => (go = resolve));
  let calls = 0;
  client.create = (...args: unknown[]) => {
    if (args[0] !== path) return original(...args);
    calls += 1;
    if (calls === 1) {
      const callback = args[args.length - 1] as AnyFn;
      return original(...args.slice(0, -1), (...reply: unknown[]) => {
        firstDone();
        callback(...reply);
      });
    }
    heldSeen();
    void gone.then(() => original(...args));
  };
  return { first, held, let: go };
}

it('a waiting acquire that finds the lock free while someone waits at the head goes behind them', async () => {
  const namespace = uniqueNamespace('review18b-probe');
  const holder = `${namespace}/default/fifo`;
  const queue = `${holder}%q`;
  const a = await lockSide(namespace);
  const b = await lockSide(namespace);
  const c = await lockSide(namespace);
  await c.lock.withLock('warm', () => undefined, { wait: 1_000 }); // C: scope dir known, containers known

  const held = await a.lock.acquire('fifo'); // fail-fast holder, no waiter node
  const bCreates = holdSecondCreate(b.zk, holder);
  const order: string[] = [];
  const bTaking = b.lock.acquire('fifo', { wait: 20_000 }).then((handle) => (order.push('B'), handle));
  bTaking.catch(() => undefined);
  await bCreates.first; // B is at the head of the queue: its create of the holder met A's node
  await held.release();
  await bCreates.held; // B saw the lock free and is about to take it: its create is held back

  const cTaking = c.lock.acquire('fifo', { wait: 20_000 }).then((handle) => (order.push('C'), handle));
  cTaking.catch(() => undefined);
  const first = await Promise.race([
    cTaking.then(() => 'C took the lock ahead of B, who was queued first'),
    waitForChildren(c.zk, queue, 2).then(() => 'C queued behind B'),
  ]);
  bCreates.let();
  expect(first).toBe('C queued behind B');

  await (await bTaking).release();
  await (await cTaking).release();
  expect(order).toEqual(['B', 'C']);
  expect(await listTree(a.zk, `${namespace}/default`)).toEqual([]);
});
