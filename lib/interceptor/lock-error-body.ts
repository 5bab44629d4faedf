import {
  InvalidLockIdError,
  LockConflictError,
  LockError,
  LockHoldExpiredError,
  LockLostError,
  LockQueueFullError,
  LockUnavailableError,
} from '../lock/lock.errors';

/**
 * What @WithLock tells a client when it cannot lock: the HTTP body, and the error data of RPC, WebSocket
 * and GraphQL answers. `code` is the LockError's stable code.
 */
export interface LockErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  /** The lock ids in the way, only with the module option `exposeLockIds`. */
  ids?: string[];
}

/**
 * The generic answer to a LockError. A lock error's own message is written for operators: it names the
 * ZooKeeper path, the namespace, the scope, server error codes and configuration. None of that is the
 * client's business, so every kind of failure gets a fixed message here, and the error itself stays in the
 * exception's `cause` and in the logs. The one exception is an invalid id: it is about the client's own
 * input, and its message (which never names a path) says what to fix. The ids appear only when the
 * application opts in with `exposeLockIds`.
 */
export function lockErrorBody(error: LockError, exposeLockIds = false): LockErrorBody {
  const { statusCode, error: text, message } = describe(error);
  const ids = exposeLockIds && (error instanceof LockConflictError || error instanceof LockLostError) ? [...error.ids] : undefined;
  return { statusCode, error: text, code: error.code, message, ...(ids && { ids }) };
}

function describe(error: LockError): { statusCode: number; error: string; message: string } {
  // Most specific first: LockQueueFullError is a LockConflictError, LockHoldExpiredError a LockLostError.
  if (error instanceof LockQueueFullError) {
    return { statusCode: 409, error: 'Conflict', message: 'Too many requests are waiting for this resource; try again later' };
  }
  if (error instanceof LockConflictError) {
    return {
      statusCode: 409,
      error: 'Conflict',
      message: error.waited > 0 ? 'The resource stayed locked by another request for longer than this request could wait' : 'The resource is locked by another request; try again later',
    };
  }
  if (error instanceof LockHoldExpiredError) {
    return { statusCode: 503, error: 'Service Unavailable', message: 'The request held its lock for longer than allowed and was stopped' };
  }
  if (error instanceof LockLostError) {
    return { statusCode: 503, error: 'Service Unavailable', message: 'The lock on this resource was lost; try again later' };
  }
  if (error instanceof LockUnavailableError) {
    return { statusCode: 503, error: 'Service Unavailable', message: 'Locking is unavailable right now; try again later' };
  }
  if (error instanceof InvalidLockIdError) {
    return { statusCode: 400, error: 'Bad Request', message: error.message };
  }
  // InvalidLockOptionsError, or a LockError this version does not know: the server's fault, not the client's.
  return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
}
