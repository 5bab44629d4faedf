import { createParamDecorator } from '@nestjs/common';
import { currentLock } from '../lock/lock-scope';

/**
 * The LockHandle @WithLock took for this handler: its `signal` (aborted if the lock is lost) and
 * `fencingToken()`. Undefined in a handler without @WithLock.
 *
 * ```ts
 * @WithLock('params.id')
 * withdraw(@CurrentLock() lock: LockHandle) { ... }
 * ```
 */
export const CurrentLock = createParamDecorator(() => currentLock());
