/**
 * What @WithLock answers when it cannot lock, over real HTTP (Express and Fastify) against a real
 * ZooKeeper: generic bodies that show no ZooKeeper path, namespace or internal message (the LockError is
 * the exception's `cause`, and 503 details go to the log); ids only with `exposeLockIds`; the module's
 * `errorFactory`; a WithLockInterceptor subclass registered as a provider; @SkipLock.
 */
import {
  ArgumentsHost,
  Catch,
  Controller,
  ExecutionContext,
  Get,
  Global,
  HttpException,
  INestApplication,
  Injectable,
  LoggerService,
  Module,
  Param,
  Post,
  Provider,
  Type,
} from '@nestjs/common';
import { BaseExceptionFilter, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import {
  CurrentLock,
  InvalidLockIdError,
  LockConflictError,
  LockError,
  LockHandle,
  LockService,
  LockUnavailableError,
  SkipLock,
  WithLock,
  WithLockInterceptor,
  WithLockMetadata,
  ZookeeperLockModule,
  ZookeeperLockModuleOptions,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { ClientFaults } from './support/client-faults';
import { AdapterName, Gates } from './support/locked-app';
import { cleanup, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const NO_AUTH = -102;

/** Records every exception the app answers (to look at the `cause` the client never sees). */
@Catch()
class Recorder extends BaseExceptionFilter {
  readonly seen: unknown[] = [];
  override catch(exception: unknown, host: ArgumentsHost): void {
    this.seen.push(exception);
    super.catch(exception, host);
  }
}

/** Keeps the log lines of the app. */
class Lines implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: unknown) {
    this.lines.push({ level: 'log', message: String(message) });
  }
  error(message: unknown) {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warn(message: unknown) {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  debug(message: unknown) {
    this.lines.push({ level: 'debug', message: String(message) });
  }
  verbose(message: unknown) {
    this.lines.push({ level: 'verbose', message: String(message) });
  }
}

function buildThings(gates: Gates) {
  @Controller('things')
  @WithLock('params.id', { scope: 'things' })
  class ThingsController {
    @Post(':id')
    async work(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      await gates.pass(`work:${id}`);
      return { id, locked: lock.ids };
    }

    @Get(':id')
    @SkipLock()
    read(@Param('id') id: string, @CurrentLock() lock: LockHandle | undefined) {
      return { id, locked: lock !== undefined };
    }

    @Post(':id/waiting')
    @WithLock('params.id', { scope: 'things', wait: 10_000 })
    async waiting(@Param('id') id: string) {
      await gates.pass(`waiting:${id}`);
      return { id };
    }

    @Post('by-body/one')
    @WithLock('body.id', { scope: 'things' })
    byBody() {
      return { ran: true };
    }
  }
  return ThingsController;
}

interface App {
  app: INestApplication;
  url: string;
  gates: Gates;
  recorder: Recorder;
  logs: Lines;
}

/** `providers` go to the module of the controller; `shape` may wrap that module in others. */
async function start(
  adapter: AdapterName,
  options: Partial<ZookeeperLockModuleOptions>,
  { providers = [], shape = (root) => root }: { providers?: Provider[]; shape?: (root: Type) => Type } = {},
): Promise<App> {
  const gates = new Gates();
  const logs = new Lines();
  @Module({
    imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), isGlobal: true, ...options })],
    controllers: [buildThings(gates)],
    providers,
  })
  class ThingsModule {}
  const root = shape(ThingsModule);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(root, new FastifyAdapter(), { logger: logs })
      : await NestFactory.create(root, { logger: logs });
  const recorder = new Recorder(app.getHttpAdapter());
  app.useGlobalFilters(recorder);
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl(), gates, recorder, logs };
}

/** Holds `id` through the route, runs `check` while it is held, then lets the first request finish. */
async function whileHeld<T>(target: App, id: string, check: () => Promise<T>): Promise<T> {
  const gate = target.gates.close(`work:${id}`);
  const first = request(target.url).post(`/things/${id}`).then((r) => r);
  // Fails at once, rather than hanging, if the first request never reaches the handler.
  await Promise.race([gate.entered, first.then((r) => Promise.reject(new Error(`never entered the handler: ${r.status} ${r.text}`)))]);
  try {
    return await check();
  } finally {
    gate.open();
    expect((await first).status).toBe(201);
  }
}

describe.each<AdapterName>(['express', 'fastify'])('@WithLock answers (%s)', (adapter) => {
  afterAll(() => cleanup());

  describe('by default', () => {
    let target: App;
    const namespace = uniqueNamespace(`answers-${adapter}`);
    beforeAll(async () => {
      target = await start(adapter, { namespace, maxWaiters: { perId: 1 } });
    });
    afterAll(() => target.app.close());

    it('answers 409 with a generic body; the cause names the lock', async () => {
      const conflict = await whileHeld(target, 'secret-42', () => request(target.url).post('/things/secret-42'));
      expect(conflict.status).toBe(409);
      expect(conflict.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_CONFLICT',
        message: 'The resource is locked by another request; try again later',
      });
      expect(conflict.headers['retry-after']).toBe('1');
      for (const secret of ['secret-42', namespace, 'things']) expect(conflict.text).not.toContain(secret);
      const thrown = target.recorder.seen.at(-1) as HttpException;
      expect(thrown.getStatus()).toBe(409);
      expect(thrown.cause).toBeInstanceOf(LockConflictError);
      expect(thrown.cause).toMatchObject({ ids: ['secret-42'], scope: 'things' });
    });

    it('answers 409 LOCK_QUEUE_FULL with Retry-After and a generic body when the queue is full', async () => {
      const gate = target.gates.close('waiting:q-1');
      const holding = request(target.url).post('/things/q-1/waiting').then((r) => r);
      await gate.entered;
      const queued = request(target.url).post('/things/q-1/waiting').then((r) => r);
      // The second request waits in the queue (one waiter: the bound).
      const locks = target.app.get(LockService);
      while (locks.waitingCount < 1) await new Promise((resolve) => setImmediate(resolve));
      const refused = await request(target.url).post('/things/q-1/waiting');
      gate.open();
      expect([(await holding).status, (await queued).status]).toEqual([201, 201]);
      expect(refused.status).toBe(409);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_QUEUE_FULL',
        message: 'Too many requests are waiting for this resource; try again later',
      });
      for (const secret of ['q-1', namespace, 'maxWaiters']) expect(refused.text).not.toContain(secret);
    });

    it('answers 503 with a generic body when ZooKeeper refuses; the path is in the cause and in the log', async () => {
      const faults = new ClientFaults(target.app.get(ZookeeperService));
      try {
        faults.answerWith('create', (path) => path.includes('/things/refused-1'), NO_AUTH);
        const refused = await request(target.url).post('/things/refused-1');
        expect(refused.status).toBe(503);
        expect(refused.body).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'LOCK_UNAVAILABLE',
          message: 'Locking is unavailable right now; try again later',
        });
        for (const secret of ['refused-1', namespace, 'NO_AUTH', 'ZooKeeper']) expect(refused.text).not.toContain(secret);
        const cause = (target.recorder.seen.at(-1) as HttpException).cause as LockUnavailableError;
        expect(cause).toBeInstanceOf(LockUnavailableError);
        expect(cause.message).toContain(`${namespace}/things/refused-1`);
        expect(cause.message).toContain('NO_AUTH');
        const logged = target.logs.lines.filter((line) => line.level === 'warn' && line.message.includes('refused-1'));
        expect(logged).toEqual([{ level: 'warn', message: expect.stringMatching(/@WithLock answered 503 LOCK_UNAVAILABLE: .*NO_AUTH/) }]);
      } finally {
        faults.restore();
      }
      expect((await request(target.url).post('/things/refused-1')).status).toBe(201);
    });

    it("answers 400 with the reason, which is about the client's input only", async () => {
      const missing = await request(target.url).post('/things/by-body/one').send({});
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        code: 'LOCK_ID_INVALID',
        message: 'Lock id is missing: the request has no body.id',
      });
      expect(missing.text).not.toContain(namespace);
      expect((target.recorder.seen.at(-1) as HttpException).cause).toBeInstanceOf(InvalidLockIdError);
    });

    it('runs a @SkipLock() handler of a class-level @WithLock without the lock', async () => {
      const read = await whileHeld(target, 'skip-1', () => request(target.url).get('/things/skip-1'));
      expect(read.status).toBe(200);
      expect(read.body).toEqual({ id: 'skip-1', locked: false });
    });
  });

  describe('with exposeLockIds', () => {
    let target: App;
    beforeAll(async () => {
      target = await start(adapter, { namespace: uniqueNamespace(`answers-ids-${adapter}`), exposeLockIds: true });
    });
    afterAll(() => target.app.close());

    it('names the ids in the 409 body', async () => {
      const conflict = await whileHeld(target, 'acct-7', () => request(target.url).post('/things/acct-7'));
      expect(conflict.status).toBe(409);
      expect(conflict.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_CONFLICT',
        message: 'The resource is locked by another request; try again later',
        ids: ['acct-7'],
      });
    });
  });

  describe('with errorFactory', () => {
    let target: App;
    const calls: Array<{ code: string; type: string; handler: string }> = [];
    beforeAll(async () => {
      target = await start(adapter, {
        namespace: uniqueNamespace(`answers-factory-${adapter}`),
        errorFactory: (error: LockError, context: ExecutionContext) => {
          calls.push({ code: error.code, type: context.getType(), handler: context.getHandler().name });
          if (error instanceof LockConflictError) return new HttpException({ reason: 'busy', ids: error.ids }, 423);
          if (error instanceof InvalidLockIdError) throw new Error('a bug in the factory, at /secret/path');
          return undefined; // the default answer
        },
      });
    });
    afterAll(() => target.app.close());

    it('answers with the exception the factory returns, for every route (Retry-After kept)', async () => {
      const conflict = await whileHeld(target, 'f-1', () => request(target.url).post('/things/f-1'));
      expect(conflict.status).toBe(423);
      expect(conflict.body).toEqual({ reason: 'busy', ids: ['f-1'] });
      expect(conflict.headers['retry-after']).toBe('1');
      expect(calls.at(-1)).toEqual({ code: 'LOCK_CONFLICT', type: 'http', handler: 'work' });
    });

    it('keeps the default answer when the factory returns undefined', async () => {
      const faults = new ClientFaults(target.app.get(ZookeeperService));
      try {
        faults.answerWith('create', (path) => path.includes('/things/f-2'), NO_AUTH);
        const refused = await request(target.url).post('/things/f-2');
        expect(refused.status).toBe(503);
        expect(refused.body.code).toBe('LOCK_UNAVAILABLE');
        expect(calls.at(-1)).toEqual({ code: 'LOCK_UNAVAILABLE', type: 'http', handler: 'work' });
      } finally {
        faults.restore();
      }
    });

    it('sends the default answer and logs the error when the factory throws', async () => {
      const invalid = await request(target.url).post('/things/by-body/one').send({ id: '' });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toEqual({ statusCode: 400, error: 'Bad Request', code: 'LOCK_ID_INVALID', message: 'Lock id must not be empty' });
      expect(invalid.text).not.toContain('secret');
      expect(target.logs.lines).toContainEqual({
        level: 'error',
        message: 'The errorFactory option threw; the default answer was sent: a bug in the factory, at /secret/path',
      });
    });
  });

  describe('with a WithLockInterceptor subclass registered as a provider', () => {
    /** Answers conflicts with 423, and counts its calls: proof that it is the one used. */
    @Injectable()
    class LockedAnswers extends WithLockInterceptor {
      static calls = 0;
      protected override throwLockError(context: ExecutionContext, error: unknown, metadata: WithLockMetadata): never {
        LockedAnswers.calls += 1;
        if (error instanceof LockConflictError) throw new HttpException({ locked: true, scope: metadata.options.scope }, 423);
        return super.throwLockError(context, error, metadata);
      }
    }
    const provider = { provide: WithLockInterceptor, useClass: LockedAnswers };

    const placements: Array<[string, { providers?: Provider[]; shape?: (root: Type) => Type }]> = [
      ["in the controller's module", { providers: [provider] }],
      [
        'in a global module, the controller in a feature module',
        {
          shape: (root) => {
            @Global()
            @Module({ providers: [provider], exports: [WithLockInterceptor] })
            class Answers {}
            @Module({ imports: [root, Answers] })
            class AppModule {}
            return AppModule;
          },
        },
      ],
      [
        'once in AppModule (not exported), the controller in a feature module',
        {
          shape: (root) => {
            @Module({ imports: [root], providers: [provider] })
            class AppModule {}
            return AppModule;
          },
        },
      ],
    ];

    it('lets each module have its own (the one its controllers can inject wins)', async () => {
      const gates = new Gates();
      /** A subclass that answers conflicts with `status`. */
      const answering = (status: number) => {
        @Injectable()
        class Answering extends WithLockInterceptor {
          protected override throwLockError(context: ExecutionContext, error: unknown, metadata: WithLockMetadata): never {
            if (error instanceof LockConflictError) throw new HttpException({ from: status }, status);
            return super.throwLockError(context, error, metadata);
          }
        }
        return Answering;
      };
      const feature = (prefix: string, status: number) => {
        @Controller(prefix)
        class Routes {
          @Post(':id')
          @WithLock('params.id', { scope: prefix })
          async work(@Param('id') id: string) {
            await gates.pass(`${prefix}:${id}`);
            return { id };
          }
        }
        @Module({ controllers: [Routes], providers: [{ provide: WithLockInterceptor, useClass: answering(status) }] })
        class Feature {}
        return Feature;
      };
      @Module({
        imports: [
          ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace: uniqueNamespace('answers-two'), isGlobal: true }),
          feature('a', 423),
          feature('b', 429),
        ],
      })
      class AppModule {}
      const app = adapter === 'fastify' ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false }) : await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      const url = await app.getUrl();
      try {
        for (const [prefix, status] of [['a', 423], ['b', 429]] as const) {
          const gate = gates.close(`${prefix}:x`);
          const first = request(url).post(`/${prefix}/x`).then((r) => r);
          await gate.entered;
          const conflict = await request(url).post(`/${prefix}/x`);
          gate.open();
          expect((await first).status).toBe(201);
          expect([conflict.status, conflict.body]).toEqual([status, { from: status }]);
        }
      } finally {
        await app.close();
      }
    });

    it.each(placements)('uses it when registered %s', async (_, placement) => {
      const target = await start(adapter, { namespace: uniqueNamespace(`answers-subclass-${adapter}`) }, placement);
      try {
        const before = LockedAnswers.calls;
        const conflict = await whileHeld(target, 's-1', () => request(target.url).post('/things/s-1'));
        expect(conflict.status).toBe(423);
        expect(conflict.body).toEqual({ locked: true, scope: 'things' });
        expect(LockedAnswers.calls).toBe(before + 1);
        // Its other answers fall back to the default ones (super.throwLockError).
        const invalid = await request(target.url).post('/things/by-body/one').send({});
        expect(invalid.status).toBe(400);
        expect(invalid.body.code).toBe('LOCK_ID_INVALID');
        expect(LockedAnswers.calls).toBe(before + 2);
      } finally {
        await target.app.close();
      }
    });
  });
});

describe('@SkipLock()', () => {
  it('refuses to sit on a method that has its own @WithLock, in either order', () => {
    expect(() => {
      class Twice {
        @SkipLock()
        @WithLock('params.id')
        handler() {}
      }
      return Twice;
    }).toThrow('@SkipLock() and @WithLock() on the same method (handler)');
    expect(() => {
      class Twice {
        @WithLock('params.id')
        @SkipLock()
        handler() {}
      }
      return Twice;
    }).toThrow('@WithLock() and @SkipLock() on the same method (handler)');
  });
});
