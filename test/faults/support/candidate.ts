/**
 * A separate process that runs for leadership of one id, built with the Nest module like an app:
 *   node -r ts-node/register/transpile-only test/faults/support/candidate.ts '<json: { zookeeper, id, lock }>'
 * Prints "ready <sessionId>" once started, "gain <t>" when its term begins and "end <t> <code>" when it
 * ends, with t from process.hrtime (CLOCK_MONOTONIC: one clock for every process on the machine), so the
 * test can look for two leaders at the same instant. With `lock: false` (the control run) it declares
 * itself leader at once, without any election: what the detector must catch. Kill it to crash it.
 */
import 'reflect-metadata';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createInterface } from 'node:readline';
import { LockService, ZookeeperLockModule, ZookeeperLockModuleOptions, ZookeeperService } from '../../../lib';

interface CandidateConfig {
  zookeeper: ZookeeperLockModuleOptions;
  id: string;
  lock: boolean;
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const config = JSON.parse(process.argv[2]) as CandidateConfig;
  const print = (line: string) => process.stdout.write(`${line}\n`);

  @Module({ imports: [ZookeeperLockModule.forRoot({ ...config.zookeeper, ownerName: `candidate/${process.pid}` })] })
  class CandidateModule {}

  const app = await NestFactory.createApplicationContext(CandidateModule, { logger: false });
  print(`ready ${app.get(ZookeeperService).sessionId}`);
  if (!config.lock) {
    print(`gain ${process.hrtime.bigint()}`);
  } else {
    const leadership = app.get(LockService).leader(config.id, { scope: 'leaders' });
    leadership.changes$.subscribe((leads) => {
      if (!leads) return; // "end" is printed by the term's signal, the moment it aborts
      print(`gain ${process.hrtime.bigint()}`);
      const term = leadership.signal;
      term.addEventListener('abort', () => print(`end ${process.hrtime.bigint()} ${(term.reason as { code?: string }).code}`), { once: true });
    });
  }
  const commands = createInterface({ input: process.stdin });
  commands.on('close', () => process.exit(0)); // the test runner is gone: do not outlive it
  setInterval(() => undefined, 1 << 30); // run until killed
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
