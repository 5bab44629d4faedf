import { Logger } from '@nestjs/common';
import { LockConflictError } from '../lock/lock.errors';
import type { LockService } from '../lock/lock.service';
import { LOCKED_CLASS_METADATA, LOCKED_LOCK_SERVICE, LOCKED_METADATA } from './locked.constants';
import { holdAtLeastProblem, maxHoldProblem } from '../lock/hold-limit';
import { lockModeProblem } from '../lock/lock-mode';
import type {
  LockedIdSource,
  LockedMetadata,
  LockedMethodDecorator,
  LockedOptions,
  NotARequestPath,
  RequestPathRoot,
} from './locked-options.interface';

const logger = new Logger('ZookeeperLock');

/**
 * Runs a provider method (a cron job, a queue consumer, any service method) holding a lock.
 *
 * ```ts
 * @Cron('0 * * * *')
 * @Locked('hourly-report', { onConflict: 'skip', holdAtLeast: 30_000 })   // one instance of the fleet runs it
 * async report(): Promise<void> {}
 *
 * @Locked((orderId: string) => orderId, { scope: 'orders', wait: 5000 })
 * async fulfil(orderId: string): Promise<Receipt> {}
 * ```
 * A string is the id itself, never a request path as with @WithLock: `@Locked('params.id')` is refused
 * (by the compiler, and when the class is defined). The method then always returns a Promise, and must
 * be declared so (`Promise<T | undefined>` with `onConflict: 'skip'`). Only for singleton providers of an application that imports
 * ZookeeperLockModule (or ZookeeperLockTestingModule): at start-up, LockedMethodsExplorer hands their
 * instances the LockService. Inside the method, `currentLock()` gives the lock (its signal, fencing token).
 *
 * Unlike the metadata-only @WithLock (controllers have interceptors; plain providers do not), this
 * decorator wraps the method itself, so the lock is taken however the method is called: directly, or
 * through a reference another library took at start-up (as @nestjs/schedule does).
 */
export function Locked<const Id extends string | readonly string[], const O extends LockedOptions = {}>( // eslint-disable-line @typescript-eslint/no-empty-object-type
  id: Id & NotARequestPath<Id>,
  options?: O,
): LockedMethodDecorator<[], O>;
export function Locked<TArgs extends unknown[], const O extends LockedOptions = {}>( // eslint-disable-line @typescript-eslint/no-empty-object-type
  idFrom: (...args: TArgs) => string | string[],
  options?: O,
): LockedMethodDecorator<TArgs, O>;
export function Locked(idFrom: LockedIdSource, options: LockedOptions = {}): MethodDecorator {
  validate(idFrom, options);
  const metadata: LockedMetadata = { idFrom, options };
  return (target, key, descriptor: PropertyDescriptor) => {
    const original: unknown = descriptor.value;
    if (typeof original !== 'function') throw new TypeError(`@Locked applies to methods; ${String(key)} is not one`);
    const name = `${target.constructor.name}.${String(key)}`;
    const locked = async function (this: Record<symbol, LockService | undefined>, ...args: unknown[]) {
      const locks = this?.[LOCKED_LOCK_SERVICE];
      if (!locks) {
        throw new Error(
          `@Locked ${name}: no LockService on this instance. It must be a singleton provider of an application ` +
            'that imports ZookeeperLockModule (or ZookeeperLockTestingModule), called after start-up',
        );
      }
      const ids = typeof idFrom === 'function' ? idFrom.apply(this, args) : (idFrom as string | string[]);
      const { wait, scope, normalizeId, maxHold, holdAtLeast, shared, limit } = options;
      let lock;
      try {
        lock = await locks.acquire(ids, { wait, scope, normalizeId, maxHold, holdAtLeast, shared, limit });
      } catch (error) {
        if (options.onConflict === 'skip' && error instanceof LockConflictError) {
          logger.debug(`@Locked ${name} skipped: ${error.message}`);
          return undefined;
        }
        throw error;
      }
      return locks.holding(lock, () => original.apply(this, args));
    };
    // Keep what other decorators recorded on the method (e.g. @Cron below @Locked), and its name.
    for (const metaKey of Reflect.getMetadataKeys(original)) {
      Reflect.defineMetadata(metaKey, Reflect.getMetadata(metaKey, original), locked);
    }
    Object.defineProperty(locked, 'name', { value: original.name });
    Reflect.defineMetadata(LOCKED_METADATA, metadata, locked);
    Reflect.defineMetadata(LOCKED_CLASS_METADATA, true, target.constructor);
    descriptor.value = locked;
    return descriptor;
  };
}

function validate(idFrom: unknown, options: LockedOptions): void {
  const idOk =
    typeof idFrom === 'function' ||
    (typeof idFrom === 'string' && idFrom !== '') ||
    (Array.isArray(idFrom) && idFrom.length > 0 && idFrom.every((id) => typeof id === 'string' && id !== ''));
  if (!idOk) throw new TypeError('@Locked(idFrom): idFrom must be a lock id, an array of ids, or a function of the arguments');
  const path = typeof idFrom === 'function' ? undefined : [idFrom as string | string[]].flat().find(looksLikeRequestPath);
  if (path !== undefined) {
    throw new TypeError(
      `@Locked('${path}'): a fixed id that looks like a @WithLock request path. @Locked takes the id itself; ` +
        `to lock on an argument, pass a function of the method's arguments, e.g. @Locked((id: string) => id). ` +
        `If '${path}' really is the id you mean, return it from a function: @Locked(() => '${path}')`,
    );
  }
  const { wait, scope, onConflict, normalizeId, maxHold, holdAtLeast } = options;
  const maxHoldIssue = maxHold === undefined ? undefined : maxHoldProblem(maxHold);
  if (maxHoldIssue) throw new TypeError(`@Locked: option maxHold ${maxHoldIssue}`);
  // Checked against the decorator's own maxHold here; against the module's when the method is called.
  const holdIssue = holdAtLeast === undefined ? undefined : holdAtLeastProblem(holdAtLeast, maxHold);
  if (holdIssue) throw new TypeError(`@Locked: option holdAtLeast ${holdIssue}`);
  if (wait !== undefined && (typeof wait !== 'number' || Number.isNaN(wait) || wait < 0)) {
    throw new TypeError(`@Locked: option wait must be a number of ms >= 0 (or Infinity), got ${String(wait)}`);
  }
  if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
    throw new TypeError('@Locked: option scope must be a non-empty string');
  }
  if (normalizeId !== undefined && normalizeId !== false && typeof normalizeId !== 'function') {
    throw new TypeError('@Locked: option normalizeId must be a function (id, scope) => string, or false');
  }
  const modeIssue = lockModeProblem(options.shared, options.limit);
  if (modeIssue) throw new TypeError(`@Locked: ${modeIssue}`);
  if (onConflict !== undefined && onConflict !== 'throw' && onConflict !== 'skip') {
    throw new TypeError(`@Locked: option onConflict must be 'throw' or 'skip', got ${String(onConflict)}`);
  }
}

const REQUEST_PATH_ROOTS: readonly RequestPathRoot[] = ['params', 'query', 'body', 'headers', 'args'];

/** `params.id`, `body.orderId`, ...: what @WithLock reads from a request (see RequestPath). */
function looksLikeRequestPath(id: string): boolean {
  const dot = id.indexOf('.');
  return dot > 0 && dot < id.length - 1 && (REQUEST_PATH_ROOTS as readonly string[]).includes(id.slice(0, dot));
}
