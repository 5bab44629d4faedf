import type { RawException, RawModule } from './zookeeper-client.types';

/**
 * Loads node-zookeeper-client with guards against its known crash paths:
 *
 * - The server may answer with a code the client does not know (SESSION_MOVED -118, THROTTLED_OP -127,
 *   QUOTA_EXCEEDED -125, ...). `Exception.create` then throws inside the socket's data handler, which takes
 *   the whole process down. We make it build a SYSTEM_ERROR exception that remembers the real code
 *   (`unknownCode`), and map that code back to its name in ZookeeperError.
 * - A watch notification of a type it does not know (newer servers' watch-removed events) throws the same
 *   way; we drop such notifications, since we never ask for them.
 *
 * Both patches are idempotent and leave known codes and events untouched.
 */
const PATCHED = Symbol.for('nestjs-zookeeper-lock.guarded');

export function loadGuardedClient(): RawModule {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const zookeeper = require('node-zookeeper-client') as RawModule;
  const exceptionModule = require('node-zookeeper-client/lib/Exception.js') as RawModule['Exception'] & {
    [PATCHED]?: boolean;
  };
  const watcherManager = require('node-zookeeper-client/lib/WatcherManager.js') as {
    prototype: { emit(event: { type: number }): void };
    [PATCHED]?: boolean;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */

  if (!exceptionModule[PATCHED]) {
    const known = new Set(Object.values(exceptionModule).filter((v): v is number => typeof v === 'number'));
    const original = exceptionModule.create;
    exceptionModule.create = (code: number, path?: string): RawException => {
      if (known.has(code)) return original(code, path);
      const exception = original(exceptionModule.SYSTEM_ERROR, path);
      exception.unknownCode = code;
      return exception;
    };
    exceptionModule[PATCHED] = true;
  }

  if (!watcherManager[PATCHED]) {
    const originalEmit = watcherManager.prototype.emit;
    const knownEvents = new Set([1, 2, 3, 4]); // created, deleted, data changed, children changed
    watcherManager.prototype.emit = function (this: unknown, event: { type: number }) {
      if (!knownEvents.has(event?.type)) return;
      originalEmit.call(this, event);
    };
    watcherManager[PATCHED] = true;
  }
  return zookeeper;
}
