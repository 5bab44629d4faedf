/**
 * review2 finding: a queued grant keeps its waiter node while held (so the next waiter wakes only at the
 * release). When the grant is lost through its watch while the session lives (an operator or a squatter
 * clean-up deleted the holder node), LockService.releaseLock skips the backend release ("lost: its
 * session, and so its nodes, are gone"), but the session is alive: the waiter node stays at the head of
 * the queue until the session ends. Everyone queued behind it waits on it for ever, although the lock
 * is free; a Leadership that rejoins after such a loss queues behind its own orphan and never leads again.
 */
import { filter, firstValueFrom } from 'rxjs';
import type { Leadership } from 'nestjs-zookeeper-lock';
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';

afterAll(cleanup);

function becomes(leadership: Leadership, value: boolean): Promise<unknown> {
  if (leadership.isLeader === value) return Promise.resolve();
  return firstValueFrom(leadership.changes$.pipe(filter((v) => v === value)));
}

it('a waiter gets a lock whose holder was deleted under its owner, once the owner released', async () => {
  const namespace = uniqueNamespace('r2-orphan');
  const aZk = await newService({ namespace });
  const a = newLockService(aZk);
  const b = newLockService(await newService({ namespace }));
  const operator = await newService();
  const holder = `${namespace}/default/job`;

  const held = await a.acquire('job', { wait: 5_000 });
  const lost = new Promise((resolve) => held.signal.addEventListener('abort', resolve));
  const theirs = b.acquire('job', { wait: 6_000 });
  await waitForChildren(operator, `${holder}%q`, 2); // B queued behind A
  await operator.remove(holder); // an operator deletes A's holder node: A's lock is lost
  await lost;
  await held.release();
  // The lock is free and A has let go: B, first in line now, must get it.
  const outcome = await theirs.then(
    async (handle) => {
      await handle.release();
      return 'granted';
    },
    async (error) =>
      error instanceof LockConflictError
        ? `conflict after 6 s; queue left: ${JSON.stringify(await listTree(operator, `${holder}%q`).catch(() => []))}`
        : String(error),
  );
  expect(outcome).toBe('granted');
});

it('a leader whose node was deleted leads again after rejoining (nobody else competes)', async () => {
  const namespace = uniqueNamespace('r2-orphan-leader');
  const zk = await newService({ namespace });
  const a = newLockService(zk);
  const operator = await newService();
  const leadership = a.leader('scheduler');
  await becomes(leadership, true);
  const ended = becomes(leadership, false);
  await operator.remove(`${namespace}/default/scheduler`);
  await ended;
  const again = await Promise.race([
    becomes(leadership, true).then(() => 'leads again'),
    new Promise((resolve) => setTimeout(resolve, 8_000)).then(async () => `still not leading after 8 s; queue: ${JSON.stringify(await listTree(operator, `${namespace}/default/scheduler%q`))}`),
  ]);
  await leadership.close();
  expect(again).toBe('leads again');
});
