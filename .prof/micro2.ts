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
(async () => {
  for (let i = 0; i < 300000; i++) {
    const res = Object.assign(new EventEmitter(), { writableFinished: false });
    const ctx = new ExecutionContextHost([{ params: { id: `r${i}` } }, res, () => undefined], C, C.prototype.h);
    ctx.setType('http');
    await lastValueFrom(interceptor.intercept(ctx, { handle: () => of(1) }));
  }
})();
