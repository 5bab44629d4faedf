import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { maxHoldProblem } from '../lock/hold-limit';
import { lockModeProblem } from '../lock/lock-mode';
import { SKIP_LOCK_METADATA, WITH_LOCK_METADATA } from './with-lock.constants';
import type { LockIdSource, WithLockMetadata, WithLockOptions } from './with-lock-options.interface';
import { WithLockHostInterceptor } from './with-lock-host.interceptor';

/**
 * Takes a ZooKeeper lock around a handler; a lock held elsewhere is answered with 409 Conflict (or the
 * transport's own exception in RPC and WebSocket handlers).
 *
 * ```ts
 * @Post(':id/withdraw')
 * @WithLock('params.id')
 * withdraw() {}
 *
 * @WithLock((req) => [req.body.from, req.body.to], { scope: 'accounts', wait: 2000 })
 * transfer() {}
 * ```
 * On a controller class it locks every handler; a method's own @WithLock overrides the class's, and
 * @SkipLock() opts a method out. It only records metadata and applies the interceptor that hands each call
 * to WithLockInterceptor (or to your subclass of it, registered as `{ provide: WithLockInterceptor,
 * useClass }`), so no global setup is needed (LockService must be injectable where the controller lives:
 * import ZookeeperLockModule, or make it global).
 */
export function WithLock(idFrom: LockIdSource, options: WithLockOptions = {}): ClassDecorator & MethodDecorator {
  if (typeof idFrom !== 'function' && (typeof idFrom !== 'string' || idFrom.trim() === '')) {
    throw new TypeError('@WithLock(idFrom): idFrom must be a dotted path such as "params.id" or a function');
  }
  const { wait, scope, retryAfter, normalizeId, maxHold } = options;
  if (wait !== undefined && (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0)) {
    throw new TypeError(`@WithLock: option wait must be a number of ms >= 0 (or Infinity), got ${String(wait)}`);
  }
  if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
    throw new TypeError('@WithLock: option scope must be a non-empty string');
  }
  if (retryAfter !== undefined && retryAfter !== false && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new TypeError('@WithLock: option retryAfter must be a whole number of seconds or false');
  }
  if (normalizeId !== undefined && normalizeId !== false && typeof normalizeId !== 'function') {
    throw new TypeError('@WithLock: option normalizeId must be a function (id, scope) => string, or false');
  }
  const maxHoldIssue = maxHold === undefined ? undefined : maxHoldProblem(maxHold);
  if (maxHoldIssue) throw new TypeError(`@WithLock: option maxHold ${maxHoldIssue}`);
  const modeIssue = lockModeProblem(options.shared, options.limit);
  if (modeIssue) throw new TypeError(`@WithLock: ${modeIssue}`);
  const metadata: WithLockMetadata = { idFrom, options };
  const decorate = applyDecorators(SetMetadata(WITH_LOCK_METADATA, metadata), UseInterceptors(WithLockHostInterceptor));
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (typeof descriptor?.value === 'function' && Reflect.getMetadata(SKIP_LOCK_METADATA, descriptor.value)) {
      throw new TypeError(`@WithLock() and @SkipLock() on the same method (${String(key)}): use one of them`);
    }
    return decorate(target, key as string | symbol, descriptor as PropertyDescriptor);
  }) as ClassDecorator & MethodDecorator;
}
