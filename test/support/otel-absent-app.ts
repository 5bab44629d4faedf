/**
 * Child process of telemetry.absent.spec.ts (run with hide-opentelemetry.js preloaded): two Nest apps with
 * ZookeeperLockModule on the real ZooKeeper at ZOOKEEPER_CONNECT take, refuse and release locks, then
 * print what happened as one JSON line.
 */
import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { LockConflictError } from '../../lib/lock/lock.errors';
import { LockService } from '../../lib/lock/lock.service';
import { ZookeeperLockModule } from '../../lib/module/zookeeper-lock.module';

async function main(): Promise<void> {
  const results: string[] = [];
  const namespace = `/test-otel-absent-${process.pid}`;
  const apps = [];
  for (let i = 0; i < 2; i++) {
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: process.env.ZOOKEEPER_CONNECT!, namespace, onLockEvent: (e) => results.push(`${i}:${e.type}`) })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    apps.push(app);
  }
  const [a, b] = apps.map((app) => app.get(LockService));
  const held = await a.acquire('acct-1');
  const conflict = await b.acquire('acct-1').catch((error: unknown) => error);
  const queued = b.acquire('acct-1', { wait: 10_000 });
  await held.release();
  await (await queued).release();
  await a.withLock('acct-2', () => undefined);
  for (const app of apps) await app.close();
  const attempts = (globalThis as unknown as { openTelemetryResolveAttempts: () => number }).openTelemetryResolveAttempts();
  const loaded = Object.keys(require.cache).filter((file) => file.includes(`${'@'}opentelemetry`));
  process.stdout.write(
    `${JSON.stringify({ conflict: conflict instanceof LockConflictError, events: results.filter((e) => !e.endsWith(':session')), attempts, loaded })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
