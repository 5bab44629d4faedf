import { SetMetadata } from '@nestjs/common';
import { SKIP_LOCK_METADATA, WITH_LOCK_METADATA } from './with-lock.constants';

/**
 * Opts one handler out of its controller's class-level @WithLock: the handler runs without a lock.
 *
 * ```ts
 * @Controller('orders')
 * @WithLock('params.id', { scope: 'orders' })
 * class OrdersController {
 *   @Post(':id/pay') pay() {}                 // locked
 *   @Get(':id') @SkipLock() show() {}          // not locked
 * }
 * ```
 * Metadata only. On a method that has its own @WithLock it would contradict it, so that is refused.
 */
export function SkipLock(): MethodDecorator {
  return (target, key, descriptor) => {
    if (typeof descriptor.value === 'function' && Reflect.getMetadata(WITH_LOCK_METADATA, descriptor.value)) {
      throw new TypeError(`@SkipLock() and @WithLock() on the same method (${String(key)}): use one of them`);
    }
    SetMetadata(SKIP_LOCK_METADATA, true)(target, key, descriptor);
  };
}
