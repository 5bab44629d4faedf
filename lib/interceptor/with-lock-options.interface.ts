import type { ExecutionContext } from '@nestjs/common';
import type { LockError } from '../lock/lock.errors';
import type { LockOptions } from '../lock/lock.service';

/**
 * Where a handler's lock id comes from:
 * - a dotted path into the request: `'params.id'`, `'body.orderId'`, `'query.key'`, `'headers.idempotency-key'`
 *   (for RPC and WebSocket handlers, into the message data: `'orderId'`, `'order.id'`);
 * - or a function of the request (the message data for RPC/WebSocket, `{ root, args, context, info }` for
 *   GraphQL) and the execution context.
 * - in GraphQL resolvers, a dotted path into `{ root, args, context, info }`: `'args.id'`, `'args.input.orderId'`.
 * A dotted path must produce one non-empty string: an array (a repeated query parameter such as
 * `?id=a&id=b`) or an object is refused with 400, since the input is the client's. A function may return an
 * array on purpose, to lock several ids at once (all or none).
 */
export type LockIdSource =
  | string
  | ((request: any, context: ExecutionContext) => string | string[] | Promise<string | string[]>); // eslint-disable-line @typescript-eslint/no-explicit-any

export interface WithLockOptions extends Pick<LockOptions, 'scope' | 'wait' | 'normalizeId' | 'maxHold' | 'shared' | 'limit'> {
  /**
   * Seconds sent in the `Retry-After` header of a 409 answered without waiting (`wait` 0).
   * Default 1; `false` sends none. (HTTP only.)
   */
  retryAfter?: number | false;
}

export interface WithLockMetadata {
  idFrom: LockIdSource;
  options: WithLockOptions;
}

/**
 * Builds what @WithLock throws when it cannot lock, for every route: the module option `errorFactory`.
 * Return the exception to throw (an HttpException, an RpcException, a GraphQLError, ... as the context's
 * transport needs), or `undefined` to keep the default answer for this error. It must not throw: an error
 * it throws is logged and the default answer is sent instead.
 */
export type LockErrorFactory = (error: LockError, context: ExecutionContext) => unknown;
