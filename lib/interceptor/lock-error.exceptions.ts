import * as common from '@nestjs/common';
import {
  BadRequestException,
  ConflictException,
  HttpException,
  InternalServerErrorException,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { LockError } from '../lock/lock.errors';
import type { LockErrorBody } from './lock-error-body';

/**
 * The exception that carries a lock failure's `body` in the transport of `type` ('http', 'rpc', 'ws',
 * 'graphql'), with the LockError as its `cause` (never serialized to the client).
 */
export function lockErrorException(type: string, body: LockErrorBody, cause: LockError): Error {
  switch (type) {
    case 'http':
      return httpException(body, cause);
    case 'rpc':
      return withCause(new (optionalClass('@nestjs/microservices', 'RpcException'))(body), cause);
    case 'ws':
      return withCause(new (optionalClass('@nestjs/websockets', 'WsException'))(body), cause);
    case 'graphql':
      return new GraphQLLockException(body, cause);
    default:
      return withCause(new (fallbackException())(body), cause);
  }
}

function httpException(body: LockErrorBody, cause: LockError): HttpException {
  const options = { cause };
  switch (body.statusCode) {
    case 409:
      return new ConflictException(body, options);
    case 503:
      return new ServiceUnavailableException(body, options);
    case 400:
      return new BadRequestException(body, options);
    default:
      return new InternalServerErrorException(body, options);
  }
}

/**
 * Nest's IntrinsicException (11+): its default filters do not log it as an unexpected error. Older
 * versions have none; Error then.
 */
const Intrinsic: new (message?: string, options?: ErrorOptions) => Error =
  (common as unknown as { IntrinsicException?: typeof Error }).IntrinsicException ?? Error;

/**
 * A lock failure in a GraphQL resolver. Not a GraphQLError, on purpose: Nest's external exception filter
 * logs every error that is not an IntrinsicException as an unexpected one (a stack trace per conflict),
 * and no class can be both. graphql-js wraps what a resolver throws into a GraphQLError and copies its
 * `extensions`, so the client gets `{ message, extensions: { code: 'LOCK_CONFLICT', ... } }`, and
 * @nestjs/graphql needs not be imported here.
 */
export class GraphQLLockException extends Intrinsic {
  override readonly name = 'GraphQLLockException';
  readonly extensions: { code: string; statusCode: number; ids?: string[] };

  constructor(body: LockErrorBody, cause: LockError) {
    super(body.message, { cause });
    this.extensions = { code: body.code, statusCode: body.statusCode, ...(body.ids && { ids: body.ids }) };
  }
}

/** RpcException / WsException have no `cause` option: give them one, not enumerable (as Error's own). */
function withCause<E extends Error>(exception: E, cause: LockError): E {
  Object.defineProperty(exception, 'cause', { value: cause, configurable: true, writable: true, enumerable: false });
  return exception;
}

/** RpcException / WsException, loaded only in the contexts that imply their package is installed. */
function optionalClass(pkg: string, name: string): new (body: object) => Error {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(pkg)[name];
  } catch {
    return fallbackException();
  }
}

/** An Error with the body, for a transport whose own exception class is not installed. */
function fallbackException(): new (body: object) => Error {
  return class LockAnswerException extends Error {
    constructor(readonly body: object) {
      super((body as { message: string }).message);
    }
    getError(): object {
      return this.body;
    }
  };
}
