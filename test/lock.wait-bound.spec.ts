/**
 * A waiting acquire answers within `wait` plus one operation timeout, even when the server freezes in the
 * middle of its wait (GC pause, disk stall): found by review (a queue listing in flight at the deadline
 * took one operation timeout, and leaving the queue another).
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, startServer, uniqueNamespace, TestServer } from './support/zookeeper';

// wait < operationTimeout: the queue listing sent when B is woken (well before the deadline) is still in
// flight at the deadline, whatever the machine's speed; then leaving the queue takes another timeout.
const OPERATION_TIMEOUT = 4_000;
const WAIT = 1_000;
const MARGIN = 1_500; // a loaded machine; without the bound it took wait + 2 x operationTimeout

const faults: ClientFaults[] = [];
let server: TestServer | undefined;
afterEach(async () => {
  server?.resume();
  for (const f of faults.splice(0)) f.restore();
  await cleanup();
});

it('answers a waiting acquire within wait + one operationTimeout when the server freezes mid-wait', async () => {
  server = await startServer();
  const namespace = uniqueNamespace('wait-bound');
  const queue = `${namespace}/default/x%q`;
  const options = { connectionString: server.connectString, namespace, sessionTimeout: 30_000, operationTimeout: OPERATION_TIMEOUT };
  const a = await newService(options);
  const b = await newService(options);
  const locksA = newLockService(a);
  const locksB = newLockService(b);
  const held = await locksA.acquire('x', { wait: 1_000 }); // holder + A's waiter node

  const faultsB = new ClientFaults(b);
  faults.push(faultsB);
  let waiting!: () => void;
  const bWaits = new Promise<void>((resolve) => (waiting = resolve));
  // B's read of its predecessor (A's waiter) is answered: B now waits on it. Then freeze the server
  // just as B lists the queue again (after A's release wakes it).
  faultsB.onReply('getData', (p) => p.startsWith(`${queue}/w-`), () => {
    faultsB.beforeSend('getChildren', queue, () => server!.pause());
    waiting();
  });
  const started = performance.now();
  let answeredAt = 0;
  const outcome = locksB.acquire('x', { wait: WAIT }).then(
    (h) => h,
    (e: unknown) => e,
  ).finally(() => (answeredAt = performance.now()));
  await bWaits;
  // A's release wakes B; the server may freeze before A's own reply is out, so A's release is not awaited
  // before B's answer (its own bound is tested elsewhere).
  const released = held.release();
  const result = await outcome;
  const elapsed = answeredAt - started;
  server.resume();
  await released;
  expect(result).toBeInstanceOf(LockConflictError);
  expect(elapsed).toBeLessThan(WAIT + OPERATION_TIMEOUT + MARGIN);
});
