/**
 * A rolling deploy: apps A and B (two ZooKeeper sessions) serve the same ids; A is closed while requests
 * to it hold locks and wait for them. Every answer is a normal one (201, 409 or 503, never 500), the
 * requests holding a lock in A finish normally, and no two requests ever run on one id at once.
 */
import { Controller, INestApplication, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { CurrentLock, LockHandle, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { Gates } from './support/locked-app';
import { cleanup, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';

const inside = new Map<string, number>();
let overlaps = 0;

async function createApp(name: string, namespace: string, gates: Gates) {
  @Controller('work')
  class WorkController {
    @Post(':id')
    @WithLock('params.id', { wait: 20_000 })
    async work(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      const now = (inside.get(id) ?? 0) + 1;
      inside.set(id, now);
      if (now > 1) overlaps += 1;
      try {
        await gates.pass(`${name}:${id}`);
        await new Promise<void>((resolve) => setImmediate(resolve)); // a little work
        return { by: name, token: String(await lock.fencingToken()) }; // fails once the lock is lost
      } finally {
        inside.set(id, inside.get(id)! - 1);
      }
    }
  }
  @Module({
    imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, shutdownTimeout: 20_000 })],
    controllers: [WorkController],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  let arrived = 0;
  const arrivals: Array<{ count: number; resolve: () => void }> = [];
  app.use((_req: unknown, _res: unknown, next: () => void) => {
    arrived += 1;
    for (const waiter of arrivals) if (arrived >= waiter.count) waiter.resolve();
    next();
  });
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  /** Resolves once `count` requests reached this app. */
  const hasReceived = (count: number) =>
    arrived >= count ? Promise.resolve() : new Promise<void>((resolve) => arrivals.push({ count, resolve }));
  return { app, url, hasReceived };
}

describe('@WithLock during a rolling deploy', () => {
  let apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
    await cleanup();
  });

  it('answers every request normally while app A closes, with no overlap', async () => {
    const namespace = uniqueNamespace('rolling');
    const gates = new Gates();
    const a = await createApp('A', namespace, gates);
    const b = await createApp('B', namespace, gates);
    apps = [a.app, b.app];
    const ids = ['d1', 'd2'];
    const post = (target: { url: string }, id: string) => request(target.url).post(`/work/${id}`).then((r) => ({ id, status: r.status, body: r.body }));

    // A holds both ids (held at a gate), then A and B each queue 5 more requests per id.
    const entered = ids.map((id) => gates.close(`A:${id}`));
    const holdersInA = ids.map((id) => post(a, id));
    await Promise.all(entered.map((gate) => gate.entered));
    const queuedInA = ids.flatMap((id) => Array.from({ length: 5 }, () => post(a, id)));
    const queuedInB = ids.flatMap((id) => Array.from({ length: 5 }, () => post(b, id)));
    await a.hasReceived(12);
    await b.hasReceived(10);
    const zk = b.app.get(ZookeeperService);
    for (const id of ids) await waitForChildren(zk, `${namespace}/default/${id}%q`, 10); // all of them queued

    const closing = a.app.close(); // the deploy stops A while its requests are in flight
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const gate of entered) gate.open(); // A's lock holders finish during the shutdown
    const [heldAnswers, queuedAAnswers, queuedBAnswers] = await Promise.all([
      Promise.all(holdersInA),
      Promise.all(queuedInA),
      Promise.all(queuedInB),
    ]);
    await closing;
    apps = [b.app];

    const all = [...heldAnswers, ...queuedAAnswers, ...queuedBAnswers];
    for (const answer of all) expect([201, 409, 503]).toContain(answer.status);
    expect(heldAnswers.map((r) => r.status)).toEqual([201, 201]); // held locks finish normally
    expect(queuedAAnswers.map((r) => r.status)).toEqual(Array(10).fill(503)); // no new grants in A
    expect(queuedBAnswers.map((r) => r.status)).toEqual(Array(10).fill(201)); // B takes over
    expect(overlaps).toBe(0);
  });
});
