import 'reflect-metadata';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { EventEmitter } from 'node:events';
import { lastValueFrom, of } from 'rxjs';
import { Logger } from '@nestjs/common';
import { LockService, WithLock, WithLockInterceptor, InMemoryLockBackend } from '../lib/index';

Logger.overrideLogger(false);
class C { @WithLock('params.id') h() { return 1; } }
const locks = new LockService(new InMemoryLockBackend(), {});
const interceptor = new WithLockInterceptor(locks, new Reflector());
const N = Number(process.argv[2] ?? 100000);
async function viaInterceptor(i: number) {
  const res = Object.assign(new EventEmitter(), { writableFinished: false });
  const ctx = new ExecutionContextHost([{ params: { id: `r${i}` } }, res, () => undefined], C, C.prototype.h);
  ctx.setType('http');
  await lastValueFrom(interceptor.intercept(ctx, { handle: () => of(1) }));
}
async function direct(i: number) { const l = await locks.acquire(`r${i}`); await locks.runHolding(l, async () => 1); await l.release(); }
async function time(name: string, f: (i: number) => Promise<void>) {
  for (let i = 0; i < 20000; i++) await f(i);
  const results = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < N; i++) await f(i);
    const c = process.cpuUsage(c0);
    results.push(((c.user + c.system) / N));
  }
  results.sort((a, b) => a - b);
  console.log(name, 'CPU µs/op median', results[2].toFixed(2), 'all', results.map((x) => x.toFixed(2)).join(' '));
}
(async () => { await time('direct acquire+runHolding+release', direct); await time('interceptor', viaInterceptor); })();
