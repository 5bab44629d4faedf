/**
 * A separate process that holds locks until told otherwise, built with the Nest module like an app:
 *   node -r ts-node/register/transpile-only test/faults/support/holder.ts '<json: { zookeeper, ids, scope }>'
 * Prints "held <sessionId>" once every id is held (one acquisition per id, fail fast), "lost <code>" when
 * a handle's signal aborts, "session <state> <id>" on session events, and after the line "release" on stdin prints "releasing <handles known lost>",
 * releases them all and prints "released <failed releases>". Kill it to crash it.
 */
import 'reflect-metadata';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createInterface } from 'node:readline';
import { LockEvent, LockHandle, LockService, ZookeeperLockModule, ZookeeperLockModuleOptions, ZookeeperService } from '../../../lib';

interface HolderConfig {
  zookeeper: ZookeeperLockModuleOptions;
  ids: string[];
  scope?: string;
  /** How each id is held: `{ shared: true }` or `{ limit: n }` (default exclusive). */
  options?: { shared?: boolean; limit?: number };
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const config = JSON.parse(process.argv[2]) as HolderConfig;
  const print = (line: string) => process.stdout.write(`${line}\n`);

  const onLockEvent = (event: LockEvent) => {
    if (event.type === 'session') print(`session ${event.state} ${event.sessionId ?? '-'}`);
  };
  @Module({ imports: [ZookeeperLockModule.forRoot({ ...config.zookeeper, onLockEvent })] })
  class HolderModule {}

  const app = await NestFactory.createApplicationContext(HolderModule, { logger: false });
  const locks = app.get(LockService);
  const handles: LockHandle[] = [];
  for (const id of config.ids) {
    const handle = await locks.acquire(id, { scope: config.scope, ...config.options });
    handle.signal.addEventListener('abort', () => print(`lost ${(handle.signal.reason as { code?: string }).code}`), { once: true });
    handles.push(handle);
  }
  print(`held ${app.get(ZookeeperService).sessionId}`);

  const commands = createInterface({ input: process.stdin });
  commands.on('close', () => process.exit(0)); // the test runner is gone: do not outlive it
  commands.on('line', (line) => {
    if (line.trim() !== 'release') return;
    print(`releasing ${handles.filter((h) => h.signal.aborted).length}`); // how many it knew were lost
    void Promise.allSettled(handles.map((h) => h.release())).then((results) => {
      print(`released ${results.filter((r) => r.status === 'rejected').length}`);
    });
  });
  setInterval(() => undefined, 1 << 30); // hold until killed
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
