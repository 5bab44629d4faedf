/**
 * Leadership on real ZooKeeper (the contract suite covers hand-over, loss, rejoin and shutdown on both
 * backends): terms never overlap when a leader loses its connection, and nothing is left behind after close.
 */
import { filter, firstValueFrom } from 'rxjs';
import type { Leadership } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { startProxy } from './support/tcp-proxy';
import { cleanup, listTree, newService, startServer, uniqueNamespace, waitForState, watchesLeft } from './support/zookeeper';
import type { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

function becomes(leadership: Leadership, value: boolean): Promise<unknown> {
  if (leadership.isLeader === value) return Promise.resolve();
  return firstValueFrom(leadership.changes$.pipe(filter((v) => v === value)));
}

async function waiting(lock: ReturnType<typeof newLockService>, id: string, count: number): Promise<void> {
  for (const started = Date.now(); (await lock.inspect(id)).waiting < count; ) {
    if (Date.now() - started > 30_000) throw new Error(`${count} waiters for ${id} not seen within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}


describe('leadership (real ZooKeeper)', () => {
  afterAll(cleanup);

  it('ends the term of a leader cut off from ZooKeeper before another instance leads, then rejoins', async () => {
    const namespace = uniqueNamespace('leader-cut');
    const server = await startServer();
    const proxy = await startProxy(server.clientPort);
    try {
      const aZk = await newService({ namespace, connectionString: proxy.connectString, sessionTimeout: 4_000, operationTimeout: 1_000 });
      const bZk = await newService({ namespace, connectionString: server.connectString, sessionTimeout: 10_000 });
      const a = newLockService(aZk);
      const b = newLockService(bZk);
      const first = a.leader('scheduler');
      await becomes(first, true);
      const second = b.leader('scheduler');
      await waiting(b, 'scheduler', 1);
      const termEnded = new Promise<number>((resolve) => first.signal.addEventListener('abort', () => resolve(performance.now())));
      const secondLeads = becomes(second, true).then(() => performance.now());
      const cutAt = performance.now();
      proxy.blackhole(); // the server hears nothing more from `a`, and expires its session after 4 s
      const [endedAt, ledAt] = await Promise.all([termEnded, secondLeads]);
      expect({ endedBeforeTheOtherLeads: endedAt < ledAt, marginMs: Math.round(ledAt - endedAt) }).toMatchObject({ endedBeforeTheOtherLeads: true });
      expect(endedAt - cutAt).toBeLessThan(4_000 + 2_000); // bound that only catches a hang
      expect(first.isLeader).toBe(false);
      proxy.restore();
      await waitForState(aZk, 'connected', 30_000);
      await waiting(b, 'scheduler', 1); // `a` queued again, on its new session, by itself
      await second.close();
      await becomes(first, true);
      await first.close();
      expect(await b.inspect('scheduler')).toMatchObject({ mode: 'free', waiting: 0 });
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('leaves no nodes, timers, watchers or holds behind after many elections and closes', async () => {
    const namespace = uniqueNamespace('leader-cycles');
    const aZk = await newService({ namespace });
    const bZk = await newService({ namespace });
    const a = newLockService(aZk);
    const b = newLockService(bZk);
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (let round = 0; round < 20; round++) {
      const id = `job-${round % 3}`;
      const leader = a.leader(id);
      await becomes(leader, true);
      void leader.signal; // read it, as workers do: that watches the node
      const follower = b.leader(id);
      const third = b.leader(`${id}-x`);
      await waiting(a, id, 1);
      if (round % 2 === 0) {
        await follower.close(); // leaves the queue
        await leader.close();
      } else {
        await leader.close(); // hands over
        await becomes(follower, true);
        await follower.close();
      }
      await becomes(third, true);
      await third.close();
    }
    expect(a.heldCount + b.heldCount).toBe(0);
    expect(a.waitingCount + b.waitingCount).toBe(0);
    expect(await listTree(aZk, namespace)).toEqual([`${namespace}/default`]);
    expect(watchesLeft(aZk)).toEqual([]); // the scope dir's mark watch aside (see watchesLeft)
    expect(watchesLeft(bZk)).toEqual([]);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
  }, 120_000);
});
