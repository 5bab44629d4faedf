/** `Lock "a", "b" in scope "accounts"`: how messages and log lines name a lock. */
export function describeLock(ids: string[], scope: string): string {
  return `Lock ${ids.map((id) => JSON.stringify(id)).join(', ')} in scope ${JSON.stringify(scope)}`;
}

/** Base of every error the lock API throws; `code` is stable and safe to switch on. */
export abstract class LockError extends Error {
  abstract readonly code: string;
}

/** The lock is held by someone else (and, with `wait`, was not freed in time). */
export class LockConflictError extends LockError {
  override readonly name: string = 'LockConflictError';
  readonly code: string = 'LOCK_CONFLICT';
  constructor(
    /** The ids that were found held (for a multi-id lock, the ones that were in the way). */
    readonly ids: string[],
    readonly scope: string,
    /** How long we waited (ms); 0 for a fail-fast attempt. */
    readonly waited: number,
  ) {
    super(`${describeLock(ids, scope)} is held by another owner` + (waited > 0 ? ` and was not released within ${waited} ms` : ''));
  }
}

/**
 * A waiting acquire refused at once because too many callers already wait for the id (or for any id in
 * this process): see the `maxWaiters` option. A LockConflictError, so it is answered 409 like one.
 */
export class LockQueueFullError extends LockConflictError {
  override readonly name = 'LockQueueFullError';
  override readonly code = 'LOCK_QUEUE_FULL';
  constructor(
    ids: string[],
    scope: string,
    /** Which bound was reached, and its value. */
    readonly limit: { perId: number } | { perProcess: number },
  ) {
    super(ids, scope, 0);
    this.message =
      'perId' in limit
        ? `${describeLock(ids, scope)} has too many waiters (maxWaiters.perId is ${limit.perId}); try again later`
        : `Too many callers wait for locks in this process (maxWaiters.perProcess is ${limit.perProcess}); try again later`;
  }
}

/** ZooKeeper cannot be reached, or there is no live session, within the bounded time. */
export class LockUnavailableError extends LockError {
  override readonly name = 'LockUnavailableError';
  readonly code = 'LOCK_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The id (or scope) cannot name a lock: not a string, empty, too long, or too many ids. */
export class InvalidLockIdError extends LockError {
  override readonly name = 'InvalidLockIdError';
  readonly code = 'LOCK_ID_INVALID';
}

/** A LockOptions value is out of range (e.g. a negative `wait`). */
export class InvalidLockOptionsError extends LockError {
  override readonly name = 'InvalidLockOptionsError';
  readonly code = 'LOCK_OPTIONS_INVALID';
}

/**
 * The reason of a handle's `signal` once the lock can no longer be trusted: the session that held it
 * expired or was given up, or the application is shutting down.
 */
export class LockLostError extends LockError {
  override readonly name: string = 'LockLostError';
  readonly code = 'LOCK_LOST';
  constructor(
    readonly ids: string[],
    readonly scope: string,
    reason: string,
  ) {
    super(`${describeLock(ids, scope)} was lost: ${reason}`);
  }
}

/** The signal's reason when a lock was held longer than its `maxHold`: this process freed it. */
export class LockHoldExpiredError extends LockLostError {
  override readonly name = 'LockHoldExpiredError';
  constructor(
    ids: string[],
    scope: string,
    /** The limit that passed (ms). */
    readonly maxHold: number,
  ) {
    super(ids, scope, `held longer than maxHold (${maxHold} ms), so it was released`);
  }
}
