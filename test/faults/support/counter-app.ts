/**
 * The application under test in the fault suite: a Nest app whose routes keep a counter per id in a file
 * shared by every instance (read, pause, write: without the lock, concurrent requests lose updates).
 *
 * As a separate process: node -r ts-node/register/transpile-only test/faults/support/counter-app.ts '<json config>'
 * It prints "ready <url> <sessionId>" once listening, then one line per session event ("session <state> <id>")
 * and per lost lock ("lost <ids>"). In-process: `createCounterApp(config)`.
 *
 * Every critical section appends "<id>\t<enter ns>\t<leave ns>\t<pid>\t<lost 0|1>[\t<kind>]" to `logFile`, with
 * process.hrtime (CLOCK_MONOTONIC: one clock for every process on the machine), so the test can look for
 * two holders of one id at the same time.
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, INestApplication, Logger, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { appendFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CurrentLock,
  LockEvent,
  LockHandle,
  LockService,
  WithLock,
  ZookeeperLockModule,
  ZookeeperLockModuleOptions,
  ZookeeperService,
} from '../../../lib';

export interface CounterAppConfig {
  zookeeper: ZookeeperLockModuleOptions;
  /** Directory of the counter files (one per id), shared by every instance. */
  dataDir: string;
  /** File the enter/leave intervals are appended to (one per instance is simplest). */
  logFile: string;
  /** Pause between reading and writing the counter (ms). */
  pauseMs?: number;
  /** `wait` of the queued route (ms). */
  queueWait?: number;
  /** Called with every lock event (the child process prints session and loss events). */
  onEvent?: (event: LockEvent) => void;
}

let tmpSeq = 0;

/** The `limit` of the counter app's limited routes. */
export const COUNTER_APP_LIMIT = 3;

export function buildCounterModule(config: CounterAppConfig) {
  const pauseMs = config.pauseMs ?? 3;

  async function increment(id: string, lock?: LockHandle): Promise<{ id: string; value: number }> {
    const enter = process.hrtime.bigint();
    const file = join(config.dataDir, encodeURIComponent(id));
    let current = 0;
    try {
      current = Number(await readFile(file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (!Number.isInteger(current)) throw new Error(`counter file ${file} is corrupt`);
    await sleep(pauseMs);
    const tmp = `${file}.${process.pid}.${++tmpSeq}.tmp`;
    await writeFile(tmp, String(current + 1));
    await rename(tmp, file); // atomic replace: a reader sees the old or the new value, never half of one
    const leave = process.hrtime.bigint();
    appendFileSync(config.logFile, `${id}\t${enter}\t${leave}\t${process.pid}\t${lock?.signal.aborted ? 1 : 0}\n`);
    return { id, value: current + 1 };
  }

  /**
   * A section of the shared/limited routes: no counter (readers change nothing), only its interval, with
   * its kind (`r` reader, `w` writer, `l` limited), for the detectors of family-checks.ts.
   */
  async function section(id: string, kind: 'r' | 'w' | 'l', lock?: LockHandle): Promise<{ id: string }> {
    const enter = process.hrtime.bigint();
    await sleep(pauseMs);
    const leave = process.hrtime.bigint();
    appendFileSync(config.logFile, `${id}\t${enter}\t${leave}\t${process.pid}\t${lock?.signal.aborted ? 1 : 0}\t${kind}\n`);
    return { id };
  }
  const wait = config.queueWait ?? 2_000;

  /** Shared (read/write) locks: readers share an id, writers exclude (issue 13 §1). */
  @Controller('shared/:id')
  class SharedController {
    @Post('read')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'shared', shared: true })
    read(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'r', lock);
    }

    @Post('read/queued')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'shared', shared: true, wait })
    readQueued(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'r', lock);
    }

    @Post('write')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'shared' })
    write(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'w', lock);
    }

    @Post('write/queued')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'shared', wait })
    writeQueued(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'w', lock);
    }

    /** The control: the same sections without any lock. */
    @Post('unlocked/:kind')
    @HttpCode(200)
    unlocked(@Param('id') id: string, @Param('kind') kind: string) {
      return section(id, kind === 'w' ? 'w' : 'r');
    }
  }

  /** Concurrency limits: at most LIMIT sections of one id at once (issue 13 §2). */
  @Controller('limited/:id')
  class LimitedController {
    @Post()
    @HttpCode(200)
    @WithLock('params.id', { scope: 'limited', limit: COUNTER_APP_LIMIT })
    failFast(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'l', lock);
    }

    @Post('queued')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'limited', limit: COUNTER_APP_LIMIT, wait })
    queued(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return section(id, 'l', lock);
    }

    @Post('unlocked')
    @HttpCode(200)
    unlocked(@Param('id') id: string) {
      return section(id, 'l');
    }
  }

  @Controller()
  class CounterController {
    constructor(readonly locks: LockService) {}

    /** Fail fast: 409 when another request (of any instance) holds the id. */
    @Post('counter/:id')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'counters' })
    failFast(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return increment(id, lock);
    }

    /** Queued: waits up to `queueWait` for the id, then 409. */
    @Post('counter/:id/queued')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'counters', wait: config.queueWait ?? 2_000 })
    queued(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      return increment(id, lock);
    }

    /** The same work without the lock: the control that shows the checks can see lost updates and overlaps. */
    @Post('unlocked/:id')
    @HttpCode(200)
    unlocked(@Param('id') id: string) {
      return increment(id);
    }

    /** Hostile input: the id comes from the JSON body, whatever the client put there. */
    @Post('by-body')
    @HttpCode(200)
    @WithLock('body.id', { scope: 'hostile' })
    byBody(@Body() body: unknown, @CurrentLock() lock: LockHandle) {
      return { ids: lock.ids, bodyType: typeof body };
    }

    /** Hostile input in the URL path. */
    @Post('by-param/:id')
    @HttpCode(200)
    @WithLock('params.id', { scope: 'hostile' })
    byParam(@Param('id') id: string) {
      return { id };
    }
  }

  @Module({
    imports: [ZookeeperLockModule.forRoot({ ...config.zookeeper, onLockEvent: config.onEvent })],
    controllers: [CounterController, SharedController, LimitedController],
  })
  class CounterAppModule {}

  return CounterAppModule;
}

/** Starts the app on a free loopback port. */
export async function createCounterApp(config: CounterAppConfig): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(buildCounterModule(config), { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const config = JSON.parse(process.argv[2]) as CounterAppConfig;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  config.onEvent = (event) => {
    if (event.type === 'session') print(`session ${event.state} ${event.sessionId ?? '-'}`);
    else if (event.type === 'lost') print(`lost ${JSON.stringify(event.ids)} ${event.reason}`);
  };
  const { app, url } = await createCounterApp(config);
  app.enableShutdownHooks();
  process.stdin.on('end', () => process.exit(0)); // the test runner is gone: do not outlive it
  process.stdin.resume();
  print(`ready ${url} ${app.get(ZookeeperService).sessionId ?? '-'}`);
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
