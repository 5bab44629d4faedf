/**
 * `maxHold`: a lock is never held longer than its limit. When it passes, every holder's signal aborts
 * with LockHoldExpiredError first, then the lock is freed (another instance can take it), and a stream
 * or request under @WithLock is ended with 503. Real ZooKeeper, two sessions, real HTTP.
 */
import { Controller, Get, INestApplication, MessageEvent, Module, Param, Post, Sse } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Observable, finalize, interval, map } from 'rxjs';
import request from 'supertest';
import {
  CurrentLock,
  InvalidLockOptionsError,
  LockConflictError,
  LockEvent,
  LockHandle,
  LockHoldExpiredError,
  Locked,
  LockService,
  WithLock,
  ZookeeperLockModule,
} from 'nestjs-zookeeper-lock';
import { ZookeeperLockTestingModule } from 'nestjs-zookeeper-lock/testing';
import { resolveOptions } from '../lib/module/zookeeper-lock-options';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => (signal.aborted ? resolve(signal.reason) : signal.addEventListener('abort', () => resolve(signal.reason))));

describe('maxHold', () => {
  afterAll(cleanup);

  it('aborts the signal, then frees the lock for another instance; the late release deletes nothing of theirs', async () => {
    const namespace = uniqueNamespace('maxhold');
    const events: LockEvent[] = [];
    const a = newLockService(await newService({ namespace, onLockEvent: (e) => events.push(e), lockLostWarning: true }));
    const bZk = await newService({ namespace });
    const b = newLockService(bZk);
    let abortedBeforeOthersTook = false;
    const result = a.withLock(
      'acct-1',
      async (lock) => {
        const reason = await aborted(lock.signal);
        expect(reason).toBeInstanceOf(LockHoldExpiredError);
        expect(reason).toMatchObject({ code: 'LOCK_LOST', maxHold: 300, ids: ['acct-1'] });
        abortedBeforeOthersTook = true;
        // Still inside fn: the lock is free for others (wait for the release this process started).
        const theirs = await b.acquire('acct-1', { wait: 10_000 });
        expect(abortedBeforeOthersTook).toBe(true);
        return theirs;
      },
      { maxHold: 300 },
    );
    const warning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const theirs = await result;
    const warned = warning.mock.calls.map(([message, options]) => [String(message), options]);
    warning.mockRestore();
    // a's release (at the end of withLock) found the lock already freed: b's node is untouched.
    await expect(a.acquire('acct-1')).rejects.toBeInstanceOf(LockConflictError);
    expect(await listTree(bZk, namespace)).toContain(`${namespace}/default/acct-1`); // b's holder node
    expect(events.filter((e) => e.type === 'lost')).toEqual([expect.objectContaining({ reason: expect.stringContaining('maxHold (300 ms)') })]);
    expect(warned).toEqual([[expect.stringContaining('maxHold'), expect.objectContaining({ code: 'NZL_LOCK_LOST' })]]);
    await theirs.release();
  });

  it('aborts every handle that joined the lock; the module default applies unless a call says Infinity', async () => {
    const namespace = uniqueNamespace('maxhold');
    const a = newLockService(await newService({ namespace, maxHold: 200 }));
    const b = newLockService(await newService({ namespace }));
    // Taken first with no limit: had it the module's 200 ms, its timer would fire before the other's.
    const unlimited = await a.acquire('forever', { maxHold: Infinity });
    const limited = await a.acquire('limited');
    const joined = await a.runHolding(limited, () => a.acquire('limited'));
    const [first, second] = await Promise.all([aborted(limited.signal), aborted(joined.signal)]);
    expect(first).toBeInstanceOf(LockHoldExpiredError);
    expect(second).toBe(first);
    expect(unlimited.signal.aborted).toBe(false);
    await expect(b.acquire('forever')).rejects.toBeInstanceOf(LockConflictError);
    const taken = await b.acquire('limited', { wait: 10_000 });
    await Promise.all([limited.release(), joined.release(), unlimited.release(), taken.release()]);
    await b.acquire('forever').then((lock) => lock.release());
  });

  it('leaves no timer behind when locks are released before their limit', async () => {
    const service = newLockService(await newService({ namespace: uniqueNamespace('maxhold') }));
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    for (let i = 0; i < 50; i++) await service.withLock(`t-${i}`, () => undefined, { maxHold: 60_000 });
    expect(timers() - before).toBeLessThan(5); // 50 if each left its timer
  });

  it('refuses a limit that is not a whole number of ms from 1, or Infinity', async () => {
    const service = newLockService(await newService({ namespace: uniqueNamespace('maxhold') }));
    for (const bad of [0, -1, 1.5, NaN, '100', 2 ** 31]) {
      await expect(service.acquire('x', { maxHold: bad as never })).rejects.toThrow(InvalidLockOptionsError);
    }
    expect(() => resolveOptions({ connectionString: 'localhost:2181', maxHold: 0 })).toThrow(/option `maxHold` must be a whole number/);
    expect(() => WithLock('params.id', { maxHold: -5 })).toThrow(/@WithLock: option maxHold must be/);
    expect(() => Locked('job', { maxHold: 'soon' as never })).toThrow(/@Locked: option maxHold must be/);
  });

  it('works the same on the testing module, and for @Locked methods', async () => {
    @Injectable()
    class Job {
      seen?: unknown;
      @Locked('nightly', { maxHold: 100 })
      async run(): Promise<void> {
        const { currentLock } = await import('nestjs-zookeeper-lock');
        this.seen = await aborted(currentLock()!.signal);
      }
    }
    const moduleRef = await Test.createTestingModule({ imports: [ZookeeperLockTestingModule.forRoot({ maxHold: 100 })], providers: [Job] }).compile();
    await moduleRef.init();
    const locks = moduleRef.get(LockService);
    const held = await locks.acquire('module-default');
    expect(await aborted(held.signal)).toBeInstanceOf(LockHoldExpiredError);
    await locks.acquire('module-default').then((lock) => lock.release()); // freed
    const job = moduleRef.get(Job);
    const warning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    await job.run();
    warning.mockRestore();
    expect(job.seen).toBeInstanceOf(LockHoldExpiredError);
    await held.release();
    await moduleRef.close();
  });

  describe('under @WithLock, over HTTP', () => {
    let app: INestApplication;
    let url: string;
    const state = { release: () => undefined as void, handlerSawAbort: undefined as unknown, streamEnded: 0 };

    @Controller('items')
    class ItemsController {
      @Post(':id/hang')
      @WithLock('params.id')
      async hang(@CurrentLock() lock: LockHandle) {
        await new Promise<void>((resolve) => (state.release = resolve));
        state.handlerSawAbort = lock.signal.reason;
        return { done: true };
      }

      @Post(':id/quick')
      @WithLock('params.id')
      quick(@Param('id') id: string) {
        return { id };
      }

      @Get(':id/free')
      @WithLock('params.id', { maxHold: Infinity })
      free(@Param('id') id: string) {
        return { id };
      }

      @Sse(':id/stream')
      @WithLock('params.id', { maxHold: 300 })
      stream(): Observable<MessageEvent> {
        return interval(50).pipe(
          map((i) => ({ data: { step: i } })),
          finalize(() => (state.streamEnded += 1)),
        );
      }
    }

    beforeAll(async () => {
      @Module({
        imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace: uniqueNamespace('maxhold-http'), maxHold: 400 })],
        controllers: [ItemsController],
      })
      class AppModule {}
      app = await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      url = await app.getUrl();
    });
    afterAll(async () => {
      state.release();
      await app.close();
    });

    it('answers 503 when a handler passes the module maxHold, and the id is free at once', async () => {
      const hung = await request(url).post('/items/i-1/hang');
      expect(hung.status).toBe(503);
      // Generic: the limit and the lock stay out of the body (the handler's signal carries the reason).
      expect(hung.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'LOCK_LOST',
        message: 'The request held its lock for longer than allowed and was stopped',
      });
      expect(hung.text).not.toContain('maxHold');
      // The handler is still running (it cannot be stopped), but the lock is not its any more.
      expect((await request(url).post('/items/i-1/quick')).status).toBe(201);
      state.release();
      await new Promise((resolve) => setImmediate(resolve));
      expect(state.handlerSawAbort).toBeInstanceOf(LockHoldExpiredError);
    });

    it('ends a stream that a client keeps open past the route maxHold, and frees the id', async () => {
      const streamed = await request(url)
        .get('/items/s-1/stream')
        .buffer(true)
        .parse((res, done) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => done(null, text));
        });
      expect(String(streamed.body)).toContain('"step":0');
      expect(String(streamed.body)).toContain('The request held its lock for longer than allowed and was stopped');
      expect(String(streamed.body)).not.toContain('maxHold');
      expect(state.streamEnded).toBe(1);
      expect((await request(url).post('/items/s-1/quick')).status).toBe(201);
    });
  });
});
