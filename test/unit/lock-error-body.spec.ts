/** The generic answers of @WithLock, for every kind of LockError (pure: no server, no Nest app). */
import { BadRequestException, ConflictException, InternalServerErrorException, ServiceUnavailableException } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { WsException } from '@nestjs/websockets';
import { lockErrorBody } from '../../lib/interceptor/lock-error-body';
import { GraphQLLockException, lockErrorException } from '../../lib/interceptor/lock-error.exceptions';
import {
  InvalidLockIdError,
  InvalidLockOptionsError,
  LockConflictError,
  LockError,
  LockHoldExpiredError,
  LockLostError,
  LockQueueFullError,
  LockUnavailableError,
} from '../../lib/lock/lock.errors';

const PATH = '/tenant-a/locks/accounts/acct-secret';

const cases: Array<[string, LockError, { statusCode: number; code: string; message: string }, boolean]> = [
  ['conflict, at once', new LockConflictError(['acct-secret'], 'accounts', 0), { statusCode: 409, code: 'LOCK_CONFLICT', message: 'The resource is locked by another request; try again later' }, true],
  ['conflict, after waiting', new LockConflictError(['acct-secret'], 'accounts', 2000), { statusCode: 409, code: 'LOCK_CONFLICT', message: 'The resource stayed locked by another request for longer than this request could wait' }, true],
  ['queue full', new LockQueueFullError(['acct-secret'], 'accounts', { perId: 100 }), { statusCode: 409, code: 'LOCK_QUEUE_FULL', message: 'Too many requests are waiting for this resource; try again later' }, true],
  ['unavailable', new LockUnavailableError(`ZooKeeper unavailable: CONNECTION_LOSS for create ${PATH}`), { statusCode: 503, code: 'LOCK_UNAVAILABLE', message: 'Locking is unavailable right now; try again later' }, false],
  ['lost', new LockLostError(['acct-secret'], 'accounts', `session 0x1f expired, node ${PATH}`), { statusCode: 503, code: 'LOCK_LOST', message: 'The lock on this resource was lost; try again later' }, true],
  ['hold expired', new LockHoldExpiredError(['acct-secret'], 'accounts', 400), { statusCode: 503, code: 'LOCK_LOST', message: 'The request held its lock for longer than allowed and was stopped' }, true],
  ['invalid options (the server is wrong)', new InvalidLockOptionsError(`Lock option \`wait\` must be a number, for ${PATH}`), { statusCode: 500, code: 'LOCK_OPTIONS_INVALID', message: 'Internal server error' }, false],
];

describe('lockErrorBody', () => {
  it.each(cases)('%s: a fixed message that names no path, scope, id or setting', (_, error, expected, hasIds) => {
    const body = lockErrorBody(error);
    expect(body).toEqual({ ...expected, error: expect.any(String) });
    const text = JSON.stringify(body);
    for (const secret of ['acct-secret', 'tenant-a', 'accounts', 'ZooKeeper', 'session', 'maxWaiters', '400', '2000']) {
      expect(text).not.toContain(secret);
    }
    // ids only when the application opts in, and only for errors that have them
    expect(lockErrorBody(error, true).ids).toEqual(hasIds ? ['acct-secret'] : undefined);
  });

  it("keeps an invalid id's reason, which is about the client's input", () => {
    expect(lockErrorBody(new InvalidLockIdError('Lock id is 2000 characters long; the limit is 1024'))).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'LOCK_ID_INVALID',
      message: 'Lock id is 2000 characters long; the limit is 1024',
    });
  });
});

describe('lockErrorException', () => {
  const conflict = new LockConflictError(['a'], 'default', 0);

  it.each([
    [409, new LockConflictError(['a'], 's', 0), ConflictException],
    [503, new LockUnavailableError('down'), ServiceUnavailableException],
    [400, new InvalidLockIdError('empty'), BadRequestException],
    [500, new InvalidLockOptionsError('bad'), InternalServerErrorException],
  ])('HTTP %i: the matching HttpException, the body as its response, the error as its cause', (status, error, type) => {
    const exception = lockErrorException('http', lockErrorBody(error), error);
    expect(exception).toBeInstanceOf(type);
    expect((exception as ConflictException).getStatus()).toBe(status);
    expect((exception as ConflictException).getResponse()).toEqual(lockErrorBody(error));
    expect(exception.cause).toBe(error);
  });

  it('RPC and WebSocket: their exception with the body as its error, the cause not enumerable', () => {
    for (const [type, cls] of [['rpc', RpcException], ['ws', WsException]] as const) {
      const exception = lockErrorException(type, lockErrorBody(conflict), conflict) as RpcException;
      expect(exception).toBeInstanceOf(cls);
      expect(exception.getError()).toEqual(lockErrorBody(conflict));
      expect(exception.cause).toBe(conflict);
      expect(Object.keys(exception)).not.toContain('cause');
    }
  });

  it('GraphQL: an error whose extensions carry the code, and that Nest does not log as unexpected', () => {
    const exception = lockErrorException('graphql', lockErrorBody(conflict, true), conflict) as GraphQLLockException;
    expect(exception).toBeInstanceOf(GraphQLLockException);
    expect(exception.message).toBe('The resource is locked by another request; try again later');
    expect(exception.extensions).toEqual({ code: 'LOCK_CONFLICT', statusCode: 409, ids: ['a'] });
    expect(exception.cause).toBe(conflict);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(exception).toBeInstanceOf(require('@nestjs/common').IntrinsicException);
  });
});
