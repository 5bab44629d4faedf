/**
 * @WithLock under interceptors that re-subscribe or give up (retry, timeout) and clients that leave
 * while queued: every run of the handler holds a lock of its own, and a cancelled wait takes nothing.
 */
import {
  CallHandler,
  Controller,
  ExecutionContext,
  INestApplication,
  Injectable,
  MessageEvent,
  Module,
  NestInterceptor,
  Param,
  Post,
  RequestTimeoutException,
  Sse,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import * as http from 'node:http';
import { Observable, TimeoutError, catchError, interval, map, retry, take, throwError, timeout } from 'rxjs';
import request from 'supertest';
import { LockConflictError, LockService, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { AdapterName, Gates } from './support/locked-app';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, sharedConnectString, uniqueNamespace, waitForChildren, waitForNoChildren } from './support/zookeeper';

@Injectable()
class RetryOnceInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(retry(1));
  }
}

/** The timeout interceptor of Nest's documentation. */
@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout(300),
      catchError((error) => throwError(() => (error instanceof TimeoutError ? new RequestTimeoutException() : error))),
    );
  }
}

const runs = { flaky: new Map<string, number>(), slow: 0, stream: 0, plain: 0 };

function controllers(gates: Gates) {
  @Controller('retry')
  @UseInterceptors(RetryOnceInterceptor) // class level: outside the method's @WithLock
  class RetryController {
    @Post(':id')
    @WithLock('params.id', { scope: 'jobs' })
    async flaky(@Param('id') id: string) {
      const attempt = (runs.flaky.get(id) ?? 0) + 1;
      runs.flaky.set(id, attempt);
      if (attempt === 1) throw new Error('first attempt fails');
      await gates.pass(`retry:${id}`);
      return { attempt };
    }
  }

  @Controller('timeout')
  @UseInterceptors(TimeoutInterceptor)
  class TimeoutController {
    @Post(':id')
    @WithLock('params.id', { scope: 'jobs', wait: 30_000 })
    slow() {
      runs.slow += 1;
      return { ran: true };
    }
  }

  @Controller('events')
  class EventsController {
    @Sse(':id')
    @WithLock('params.id', { scope: 'jobs', wait: 30_000 })
    stream(): Observable<MessageEvent> {
      runs.stream += 1;
      return interval(50).pipe(
        take(20),
        map((i) => ({ data: { step: i } })),
      );
    }
  }
  @Controller('plain')
  class PlainController {
    @Post(':id')
    @WithLock('params.id', { scope: 'jobs', wait: 30_000 })
    run() {
      runs.plain += 1;
      return { ran: true };
    }
  }
  return [RetryController, TimeoutController, EventsController, PlainController];
}

/** The holder node of `id` and any waiter node in its queue (not the queue directory itself). */
async function lockNodes(zk: ZookeeperService, namespace: string, id: string): Promise<string[]> {
  const queue = `${namespace}/jobs/${id}%q`;
  return (await listTree(zk, `${namespace}/jobs`)).filter((p) => (p === `${namespace}/jobs/${id}` || p.startsWith(`${queue}/`)));
}

describe.each<AdapterName>(['express', 'fastify'])('@WithLock per subscription (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let namespace: string;
  let other: LockService;
  let observer: ZookeeperService;
  const gates = new Gates();

  beforeAll(async () => {
    namespace = uniqueNamespace(`sub-${adapter}`);
    @Module({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace })],
      controllers: controllers(gates),
    })
    class AppModule {}
    app =
      adapter === 'fastify'
        ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false })
        : await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    observer = await newService({ namespace });
    other = newLockService(observer); // another instance: a session of its own
  });
  afterEach(() => gates.openAll());
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  it('holds the lock again when an outer interceptor retries the handler', async () => {
    const id = `r-${adapter}`;
    const gate = gates.close(`retry:${id}`);
    const answer = request(url).post(`/retry/${id}`).then((r) => r);
    await gate.entered; // the second attempt runs
    expect(runs.flaky.get(id)).toBe(2);
    await expect(other.acquire(id, { scope: 'jobs' })).rejects.toBeInstanceOf(LockConflictError);
    gate.open();
    const done = await answer;
    expect(done.status).toBe(201);
    expect(done.body).toEqual({ attempt: 2 });
    await (await other.acquire(id, { scope: 'jobs' })).release(); // released after the retry
  });

  it('cancels the wait when an outer timeout() fires while queued: the lock is never taken', async () => {
    const id = `t-${adapter}`;
    const holder = await other.acquire(id, { scope: 'jobs' });
    const before = runs.slow;
    const answer = await request(url).post(`/timeout/${id}`);
    expect(answer.status).toBe(408);
    await waitForNoChildren(observer, `${namespace}/jobs/${id}%q`); // the waiter left the queue
    await holder.release();
    await (await other.acquire(id, { scope: 'jobs' })).release(); // free for others: nobody took it
    expect(runs.slow).toBe(before);
    expect(await lockNodes(observer, namespace, id)).toEqual([]);
  });

  it('cancels the wait when an SSE client disconnects while queued: the lock is never taken', async () => {
    const id = `s-${adapter}`;
    const holder = await other.acquire(id, { scope: 'jobs' });
    const before = runs.stream;
    const client = http.get(`${url}/events/${id}`);
    client.on('error', () => undefined); // destroyed on purpose
    await waitForChildren(observer, `${namespace}/jobs/${id}%q`, 1); // queued
    client.destroy(); // the client goes away while its request waits for the lock
    await waitForNoChildren(observer, `${namespace}/jobs/${id}%q`);
    await holder.release();
    await (await other.acquire(id, { scope: 'jobs' })).release();
    expect(runs.stream).toBe(before);
    expect(await lockNodes(observer, namespace, id)).toEqual([]);
  });

  it('cancels the wait when a plain HTTP client disconnects while queued: the handler never runs', async () => {
    const id = `p-${adapter}`;
    const holder = await other.acquire(id, { scope: 'jobs' });
    const before = runs.plain;
    const client = http.request(`${url}/plain/${id}`, { method: 'POST' });
    client.on('error', () => undefined); // destroyed on purpose
    client.end();
    await waitForChildren(observer, `${namespace}/jobs/${id}%q`, 1); // queued
    client.destroy();
    await waitForNoChildren(observer, `${namespace}/jobs/${id}%q`);
    await holder.release();
    await (await other.acquire(id, { scope: 'jobs' })).release();
    expect(runs.plain).toBe(before);
    expect(await lockNodes(observer, namespace, id)).toEqual([]);
  });
});
