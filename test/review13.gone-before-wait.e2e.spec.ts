/**
 * Review 13: @WithLock cancels a waiting acquire when the HTTP client disconnects, by listening for the
 * response's `close` (client-gone.ts onHttpClientGone). It starts listening only when the interceptor
 * subscribes, and does not look whether the response has closed already. A client that leaves before
 * that (while an async guard, or any earlier interceptor/pipe, was still busy: guards run before
 * interceptors) is never noticed: its request queues for the lock for the whole `wait` (30 s here; any
 * `wait`, Infinity included), takes a place in the queue and in `maxWaiters`, and once granted runs the
 * handler and holds the lock for a client that is gone. (The TCP transport checks `socket.destroyed`
 * for exactly this; HTTP does not.)
 */
import { CanActivate, Controller, INestApplication, Injectable, Module, Post, UseGuards, ExecutionContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as http from 'node:http';
import { LockService, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForNoChildren } from './support/zookeeper';

let guardEntered!: (entered: { closed: Promise<void> }) => void;
let openGuard!: () => void;
let runs = 0;

@Injectable()
class SlowGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const res = context.switchToHttp().getResponse<http.ServerResponse>();
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    const open = new Promise<void>((resolve) => (openGuard = resolve));
    guardEntered({ closed });
    await open; // e.g. an authorisation look-up
    return true;
  }
}

@Controller('jobs')
class JobsController {
  @Post(':id')
  @UseGuards(SlowGuard)
  @WithLock('params.id', { scope: 'jobs', wait: 30_000 })
  run() {
    runs += 1;
    return { ran: true };
  }
}

let app: INestApplication;
let url: string;
let namespace: string;
let other: LockService;
let observer: ZookeeperService;

beforeAll(async () => {
  namespace = uniqueNamespace('review13-gone');
  @Module({
    imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace })],
    controllers: [JobsController],
    providers: [SlowGuard],
  })
  class AppModule {}
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  url = await app.getUrl();
  observer = await newService({ namespace });
  other = newLockService(observer);
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

it('does not queue (nor run the handler) for an HTTP client that left before the lock was asked for', async () => {
  const id = 'gone-early';
  const holder = await other.acquire(id, { scope: 'jobs' });
  const entered = new Promise<{ closed: Promise<void> }>((resolve) => (guardEntered = resolve));
  const client = http.request(`${url}/jobs/${id}`, { method: 'POST' });
  client.on('error', () => undefined); // destroyed on purpose
  client.end();
  const { closed } = await entered; // the guard runs
  client.destroy(); // the client leaves
  await closed; // the server has seen it go
  openGuard();

  // If it queued at all, its waiter node must leave long before the route's 30 s wait runs out.
  const queue = `${namespace}/jobs/${id}%q`;
  const queued = await waitForChildren(observer, queue, 1, 3_000).then(
    () => true,
    () => false,
  );
  const left = queued
    ? await waitForNoChildren(observer, queue, 5_000).then(
        () => 'left the queue',
        (e: Error) => e.message,
      )
    : 'never queued';
  await holder.release();
  // Its acquire (if any) ends now; give the handler the chance it must not take.
  const after = await other.acquire(id, { scope: 'jobs', wait: 10_000 });
  await after.release();
  expect({ left, handlerRuns: runs }).toEqual({ left: expect.stringMatching(/left the queue|never queued/), handlerRuns: 0 });
});
