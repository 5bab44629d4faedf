/*
 * The application that `npm run bench:http` drives (bench/http.bench.ts forks it, so that the load
 * generator does not share its event loop). One Nest app (Express), one ZooKeeper session, five routes
 * around the same handler:
 *
 *   GET /plain/:id    the handler alone
 *   GET /locked/:id   @WithLock('params.id'): fail-fast lock around the handler
 *   GET /manual/:id   what a user would write by hand: ZookeeperService.create (ephemeral) + remove around
 *                     the handler, 409 when the node exists
 *   GET /service/:id  LockService.withLock inside the handler (no interceptor)
 *   GET /checked/:id  /manual plus what the library's release does so as never to delete someone else's
 *                     node: read the node (token and owner), then delete it at the version read. Same
 *                     ZooKeeper requests as @WithLock: what is left between the two is the library's own cost
 *   GET /passthrough/:id  the handler behind an interceptor that does nothing (`next.handle()`): what any
 *                     interceptor costs in Nest, @WithLock's included
 *   GET /intercepted/:id  /manual's create + remove written as an interceptor: the hand-written
 *                     equivalent of @WithLock's shape
 *   GET /hold/start, /hold/stop  take (and free) one lock with `withLock` that stays held in the
 *                     background: while it is, the lock context's AsyncLocalStorage is enabled (on Node 20
 *                     and 22 a promise hook for every promise of the process), so /plain shows what that
 *                     costs every other route
 *
 * Reports its port to the parent over IPC; GET /nodes answers how many nodes the routes left behind, GET
 * /cpu the CPU time this process has used.
 */
import {
  CallHandler,
  ConflictException,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  Logger,
  Module,
  NestInterceptor,
  Param,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { catchError, from, map, mergeMap, Observable, throwError } from 'rxjs';
import { LockConflictError, LockService, WithLock, ZookeeperError, ZookeeperLockModule, ZookeeperService } from '../lib/index';
import { joinableHandles } from '../lib/lock/lock-scope';

const NAMESPACE = '/bench-http';
const MANUAL_DIR = '/bench-http-manual';
const LOCK_DIR = `${NAMESPACE}/default`;
const TOKEN_PREFIX = `${process.pid}-`;
let tokens = 0;
/** Ends the background lock of /hold/start. */
let background: (() => void) | undefined;

/** The work every route does: the same few lines, so that the routes differ only in their locking. */
function handler(id: string): { id: string; ok: true } {
  return { id, ok: true };
}

/** Costs what Nest's interceptor machinery costs, and nothing more. */
@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

/**
 * /manual's create + remove around the handler, as an interceptor a user would write by hand; like
 * @WithLock it answers after the remove (so that the client's next request finds the lock free).
 */
@Injectable()
class HandWrittenLockInterceptor implements NestInterceptor {
  constructor(private readonly zk: ZookeeperService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const id = context.switchToHttp().getRequest<{ params: { id: string } }>().params.id;
    const path = `${MANUAL_DIR}/${encodeURIComponent(id)}`;
    const created = this.zk.create(path, { mode: 'ephemeral' }).catch((error) => {
      throw error instanceof ZookeeperError && error.code === 'NODE_EXISTS' ? new ConflictException(`${id} is locked`) : error;
    });
    const release = () => from(this.zk.remove(path));
    return from(created).pipe(
      mergeMap(() =>
        next.handle().pipe(
          mergeMap((value) => release().pipe(map(() => value))),
          catchError((error) => release().pipe(catchError(() => [undefined]), mergeMap(() => throwError(() => error)))),
        ),
      ),
    );
  }
}

@Controller()
class BenchController {
  constructor(
    private readonly zk: ZookeeperService,
    private readonly locks: LockService,
  ) {}

  @Get('plain/:id')
  plain(@Param('id') id: string) {
    return handler(id);
  }

  @Get('locked/:id')
  @WithLock('params.id')
  locked(@Param('id') id: string) {
    return handler(id);
  }

  @Get('manual/:id')
  async manual(@Param('id') id: string) {
    const path = `${MANUAL_DIR}/${encodeURIComponent(id)}`;
    try {
      await this.zk.create(path, { mode: 'ephemeral' });
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') throw new ConflictException(`${id} is locked`);
      throw error;
    }
    try {
      return handler(id);
    } finally {
      await this.zk.remove(path);
    }
  }

  @Get('passthrough/:id')
  @UseInterceptors(PassThroughInterceptor)
  passthrough(@Param('id') id: string) {
    return handler(id);
  }

  @Get('intercepted/:id')
  @UseInterceptors(HandWrittenLockInterceptor)
  intercepted(@Param('id') id: string) {
    return handler(id);
  }

  @Get('service/:id')
  service(@Param('id') id: string) {
    return this.locks.withLock(id, () => handler(id)).catch((error) => {
      throw error instanceof LockConflictError ? new ConflictException(error.message) : error;
    });
  }

  @Get('checked/:id')
  async checked(@Param('id') id: string) {
    const path = `${MANUAL_DIR}/${encodeURIComponent(id)}`;
    const token = `${TOKEN_PREFIX}${++tokens}`;
    let session: string;
    try {
      session = (await this.zk.create(path, { mode: 'ephemeral', data: Buffer.from(token) })).sessionId;
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') throw new ConflictException(`${id} is locked`);
      throw error;
    }
    try {
      return handler(id);
    } finally {
      const { data, stat } = await this.zk.getData(path);
      if (stat.ephemeralOwner === session && data.toString() === token) await this.zk.remove(path, stat.version);
    }
  }

  @Get('hold/start')
  async holdStart() {
    if (!background) {
      await new Promise<void>((held, failed) => {
        this.locks.withLock('bench-background', () => new Promise<void>((done) => ((background = done), held()))).catch(failed);
      });
    }
    // How many handles keep the lock context's storage enabled: the bench checks it is not 0.
    return { holding: true, joinable: joinableHandles() };
  }

  @Get('hold/stop')
  holdStop() {
    background?.();
    background = undefined;
    return { holding: false };
  }

  /** CPU time this process has used, in µs (the bench divides its growth by the requests served). */
  @Get('cpu')
  cpu() {
    const { user, system } = process.cpuUsage();
    return { micros: user + system };
  }

  @Get('nodes')
  async nodes() {
    const count = async (dir: string) => ((await this.zk.exists(dir)) ? (await this.zk.getChildren(dir)).length : 0);
    return { locked: await count(LOCK_DIR), manual: await count(MANUAL_DIR) };
  }
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const connectionString = process.env.ZOOKEEPER_CONNECT;
  if (!connectionString) throw new Error('bench/http-app.ts needs ZOOKEEPER_CONNECT');

  @Module({
    imports: [ZookeeperLockModule.forRoot({ connectionString, namespace: NAMESPACE })],
    controllers: [BenchController],
  })
  class BenchModule {}

  const app = await NestFactory.create(BenchModule, { logger: ['error'] });
  app.enableShutdownHooks();
  await app.init(); // connects the session (onModuleInit)
  await app.get(ZookeeperService).mkdirp(MANUAL_DIR);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.send?.({ port });
  // The parent says when to go (or simply disconnects when it dies), and when to profile (BENCH_PROFILE).
  const stop = () => void app.close().then(() => process.exit(0));
  const profiler = new Session();
  process.on('message', (message: string | { profileStart?: true; profileStop?: string }) => {
    if (message === 'stop') return stop();
    if (typeof message !== 'object') return;
    if (message.profileStart) {
      profiler.connect();
      profiler.post('Profiler.enable', () => profiler.post('Profiler.start', () => process.send?.({ profiling: true })));
    } else if (message.profileStop) {
      const file = message.profileStop;
      profiler.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
        profiler.disconnect();
        process.send?.({ profiled: error ? error.message : file });
      });
    }
  });
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
