import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, Logger, NestInterceptor, Optional } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { AsyncResource } from 'node:async_hooks';
import { Observable, Subscription } from 'rxjs';
import {
  InvalidLockIdError,
  LockConflictError,
  LockError,
  LockHoldExpiredError,
  LockQueueFullError,
  LockUnavailableError,
} from '../lock/lock.errors';
import { LockHandle, LockHold } from '../lock/lock-handle';
import { normalizeIds } from '../lock/lock-id';
import { LockService } from '../lock/lock.service';
import { ZOOKEEPER_LOCK_OPTIONS } from '../module/zookeeper-lock.module-definition';
import type { ZookeeperLockModuleOptions } from '../module/zookeeper-lock-options.interface';
import { noop, onClientGone } from './client-gone';
import { LockErrorBody, lockErrorBody } from './lock-error-body';
import { lockErrorException } from './lock-error.exceptions';
import { SKIP_LOCK_METADATA, WITH_LOCK_METADATA } from './with-lock.constants';
import type { LockErrorFactory, WithLockMetadata } from './with-lock-options.interface';

/**
 * Applied by @WithLock. Every subscription to what `intercept` returns takes its own lock (an outer
 * interceptor that re-subscribes, with retry/repeat/catchError, gets the lock again for the new run),
 * or joins one that its async context holds (@WithLock on a class and on its method: the inner one
 * joins the outer's lock). The lock is taken on subscribe, not before: a caller that goes away while
 * the acquire is pending (client disconnect, an outer timeout()) unsubscribes, which aborts the wait,
 * and a grant that lands after that is released at once. It is held until the handler's result is
 * complete (a value, a promise, or an observable that emits over time), and released on completion, on
 * error, and when the subscriber goes away. The response is sent after the release, so the client's
 * next request finds the lock free.
 *
 * Extension points, in the manner of @nestjs/throttler's guard: override `getLockIds` to take ids from
 * elsewhere, `getLockSource` to change what `idFrom` reads, and `throwLockError` to answer failures
 * differently. Register the subclass as `{ provide: WithLockInterceptor, useClass: MyInterceptor }` in any
 * module (see WithLockHostInterceptor for which one a route uses).
 */
@Injectable()
export class WithLockInterceptor implements NestInterceptor {
  protected readonly logger = new Logger('ZookeeperLock');

  /**
   * Finds the module options (`errorFactory`, `exposeLockIds`) wherever ZookeeperLockModule is, since the
   * interceptor lives in each controller's module, where the options token is not exported. Injected as a
   * property, so a subclass's constructor passes on only LockService and Reflector.
   */
  @Optional() @Inject(ModuleRef) private readonly moduleRef?: ModuleRef;
  private answerOptions?: { errorFactory?: LockErrorFactory; exposeLockIds: boolean };
  /** When each code's 503 was last logged, and how many were not logged since (see logAnswer). */
  private readonly logged = new Map<string, { at: number; unlogged: number }>();

  constructor(
    protected readonly lockService: LockService,
    protected readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = this.reflector.getAllAndOverride<WithLockMetadata | undefined>(WITH_LOCK_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    // @SkipLock() on the handler opts it out of its class's @WithLock.
    if (!metadata || this.reflector.get<boolean | undefined>(SKIP_LOCK_METADATA, context.getHandler())) return next.handle();
    // The async context of this call (it may hold the lock of an outer @WithLock, to be joined), for
    // whenever the subscription comes. (A resource entered with runInAsyncScope, not AsyncResource.bind,
    // whose bound function costs Node 20 two deprecation wrappers per call: a measurable share of a request.)
    const callContext = new AsyncResource('WithLockInterceptor');
    return new Observable((subscriber) => {
      const waiting = new WaitCancellation(metadata.options.wait);
      let left = false;
      let lock: LockHandle | undefined;
      let inner: Subscription | undefined;
      let settled = false;
      let stopExpiry = noop;
      const release = (handle: LockHandle) =>
        handle.release().catch((e) => this.logger.error(`Lock release failed: ${(e as Error).message}`));

      // Nest unsubscribes when an SSE client leaves, but not when any other caller goes: watch its connection.
      const stopWatching = onClientGone(context, () =>
        waiting.abort(new LockUnavailableError('The client went away while waiting for the lock')),
      );
      const answerLockError = (error: unknown) => {
        try {
          this.throwLockError(context, error, metadata);
        } catch (answer) {
          subscriber.error(answer);
        }
      };
      callContext.runInAsyncScope(() => {
        this.acquireFor(context, metadata, waiting).then(
          (handle) => {
            stopWatching();
            if (left) return void release(handle); // granted after the caller went away
            if (waiting.aborted) {
              // Granted (fail-fast, not abortable) after the HTTP client left: give it back, answer 503.
              return void release(handle).finally(() => answerLockError(waiting.reason));
            }
            lock = handle;
            stopExpiry = onHoldExpired(handle, (reason) => {
              // maxHold passed: end the handler's stream, and answer 503 once the lock is free (as every
              // answer, so the client's next request finds it free).
              if (settled || left) return;
              settled = true;
              inner?.unsubscribe();
              void release(handle).finally(() => answerLockError(reason));
            });
            inner = this.lockService
              .runHolding(handle, () => next.handle())
              .subscribe({
                next: (value) => subscriber.next(value),
                error: (error) => {
                  settled = true;
                  stopExpiry();
                  void release(handle).finally(() => subscriber.error(error));
                },
                complete: () => {
                  settled = true;
                  stopExpiry();
                  void release(handle).finally(() => subscriber.complete());
                },
              });
          },
          (error) => {
            stopWatching();
            if (left) return; // the wait was cancelled because nobody listens any more
            answerLockError(error);
          },
        );
      });

      return () => {
        left = true;
        stopWatching();
        stopExpiry();
        if (!lock) waiting.abort(new Error('The caller went away while waiting for the lock'));
        inner?.unsubscribe();
        if (lock && !settled) void release(lock); // the subscriber left early (client disconnected mid-stream)
      };
    });
  }

  private async acquireFor(context: ExecutionContext, metadata: WithLockMetadata, waiting: WaitCancellation): Promise<LockHandle> {
    const ids = await this.getLockIds(context, metadata);
    const { scope, wait, normalizeId, maxHold, shared, limit } = metadata.options;
    if (waiting.aborted) throw waiting.reason; // gone while the ids were read: as acquire would with the signal
    return this.lockService.acquire(ids, { scope, wait, normalizeId, maxHold, shared, limit, signal: waiting.signal });
  }

  /**
   * The ids to lock for this call: `idFrom` applied to the request (HTTP) or the message data (RPC,
   * WebSocket). Throws InvalidLockIdError when they cannot be produced.
   */
  protected async getLockIds(context: ExecutionContext, metadata: WithLockMetadata): Promise<string[]> {
    const source = this.getLockSource(context);
    let value: unknown;
    if (typeof metadata.idFrom === 'function') {
      try {
        value = await metadata.idFrom(source, context);
      } catch (error) {
        if (error instanceof HttpException || error instanceof LockError) throw error;
        this.logger.debug(`@WithLock idFrom function failed: ${(error as Error).message}`);
        throw new InvalidLockIdError('Lock id could not be determined from the request');
      }
    } else {
      value = readPath(source, metadata.idFrom);
      // Untrusted input can repeat a field (`?id=a&id=b`) or nest one: a path names exactly one id.
      // (An idFrom function may return an array on purpose, to lock several ids.)
      if (value !== null && typeof value === 'object') {
        throw new InvalidLockIdError(
          `Lock id from ${metadata.idFrom} must be one string, got ${Array.isArray(value) ? 'an array (a repeated field?)' : 'an object'}; ` +
            'use an idFrom function to lock several ids',
        );
      }
    }
    if (value === undefined || value === null) {
      throw new InvalidLockIdError(
        typeof metadata.idFrom === 'string'
          ? `Lock id is missing: the request has no ${metadata.idFrom}`
          : 'Lock id is missing from the request',
      );
    }
    return normalizeIds(value);
  }

  /**
   * What `idFrom` reads: the HTTP request, the message data in RPC and WebSocket handlers, and
   * `{ root, args, context, info }` in GraphQL resolvers (so `'args.id'` is the resolver's `id` argument;
   * the names of @nestjs/graphql's GqlExecutionContext, read without importing it).
   */
  protected getLockSource(context: ExecutionContext): unknown {
    switch (context.getType<string>()) {
      case 'http':
        return context.switchToHttp().getRequest();
      case 'rpc':
        return context.switchToRpc().getData();
      case 'ws':
        return context.switchToWs().getData();
      case 'graphql': {
        const [root, args, graphqlContext, info] = context.getArgs();
        return { root, args, context: graphqlContext, info };
      }
      default:
        return context.getArgByIndex(0);
    }
  }

  /**
   * Turns a failure to lock into the transport's answer, and throws it. By default a generic one (see
   * lockErrorBody): HTTP 409 Conflict (with Retry-After when the call did not wait, or the queue was full),
   * 503 when ZooKeeper is unavailable or the lock was lost, 400 for an id that cannot name a lock; RPC and
   * WebSocket: an RpcException / WsException with the same body; GraphQL: an error whose
   * `extensions.code` is the LockError's code. The LockError is the exception's `cause`. With the module
   * option `errorFactory`, what it returns is thrown instead. Errors that are not LockErrors are rethrown.
   */
  protected throwLockError(context: ExecutionContext, error: unknown, metadata: WithLockMetadata): never {
    if (!(error instanceof LockError)) throw error;
    const { errorFactory, exposeLockIds } = this.getAnswerOptions();
    const body = lockErrorBody(error, exposeLockIds);
    this.logAnswer(error, body);
    const type = context.getType<string>();
    if (type === 'http' && error instanceof LockConflictError && metadata.options.retryAfter !== false) {
      const refusedAtOnce = !metadata.options.wait || error instanceof LockQueueFullError;
      if (refusedAtOnce) setHeader(context.switchToHttp().getResponse(), 'Retry-After', String(metadata.options.retryAfter ?? 1));
    }
    if (errorFactory) {
      let custom: unknown;
      try {
        custom = errorFactory(error, context);
      } catch (failure) {
        // A bug in the factory must not turn a 409 into a 500, nor show its message to the client.
        this.logger.error(`The errorFactory option threw; the default answer was sent: ${(failure as Error)?.message ?? String(failure)}`, (failure as Error)?.stack);
      }
      if (custom !== undefined && custom !== null) throw custom;
    }
    throw lockErrorException(type, body, error);
  }

  /**
   * The details a generic answer leaves out go to the log. 503s (an outage, a refused ACL) are logged as
   * warnings, at most one line per code per second with the count of those not logged since, so that an
   * outage under load does not flood the log. Conflicts are logged (debug) by LockService already, lost
   * locks (warn) when they are lost.
   */
  private logAnswer(error: LockError, body: LockErrorBody): void {
    if (body.statusCode === 500) {
      this.logger.error(`@WithLock answered 500: ${error.message}`);
    } else if (body.statusCode === 400) {
      this.logger.debug(`@WithLock answered 400: ${error.message}`);
    } else if (error instanceof LockUnavailableError) {
      const now = performance.now();
      const last = this.logged.get(error.code);
      if (last && now - last.at < 1_000) {
        last.unlogged += 1;
        return;
      }
      const since = last?.unlogged ? ` (and ${last.unlogged} more since the last line)` : '';
      this.logged.set(error.code, { at: now, unlogged: 0 });
      const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
      this.logger.warn(`@WithLock answered ${body.statusCode} ${error.code}${since}: ${error.message}${cause}`);
    }
  }

  /** The module's `errorFactory` and `exposeLockIds`, looked up once (defaults when there is no module). */
  private getAnswerOptions(): { errorFactory?: LockErrorFactory; exposeLockIds: boolean } {
    if (this.answerOptions) return this.answerOptions;
    let options: Pick<ZookeeperLockModuleOptions, 'errorFactory' | 'exposeLockIds'> | undefined;
    try {
      options = this.moduleRef?.get(ZOOKEEPER_LOCK_OPTIONS, { strict: false });
    } catch {
      options = undefined; // built by hand (`new WithLockInterceptor(...)`): no module options
    }
    this.answerOptions = {
      errorFactory: typeof options?.errorFactory === 'function' ? options.errorFactory : undefined,
      exposeLockIds: options?.exposeLockIds === true,
    };
    return this.answerOptions;
  }
}

/**
 * Cancels a waiting acquire when the caller goes away. Only a waiting acquire (`wait` > 0) listens to a
 * signal, so only it gets an AbortController (one per request is a measurable cost); a fail-fast one
 * just records that the caller left, which the interceptor checks once the lock is granted.
 */
class WaitCancellation {
  private readonly controller?: AbortController;
  private abortedWith?: { reason: unknown };

  constructor(wait: number | undefined) {
    if (wait) this.controller = new AbortController();
  }

  /** For LockService.acquire: undefined for a fail-fast acquire, which takes no signal. */
  get signal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }
}

/**
 * Calls `onExpired` when a lock `handle` holds passes its maxHold; returns the function that stops
 * listening. Locks without a limit are not watched (no signal is made for them).
 */
function onHoldExpired(handle: LockHandle, onExpired: (reason: LockHoldExpiredError) => void): () => void {
  if (!(handle instanceof LockHold) || !handle.parts.some((part) => part.limited)) return noop;
  const signal = handle.signal;
  // Called from the abort, before the revocation has started the release: act a microtask later, when
  // a release joins the one under way.
  const listener = () => {
    if (signal.reason instanceof LockHoldExpiredError) queueMicrotask(() => onExpired(signal.reason));
  };
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Reads a dotted path. Framework getters count (Express 5's `req.query` lives on the prototype), but
 * `__proto__`, `constructor` and `prototype` never do, and Object.prototype's members are never ids.
 */
function readPath(source: unknown, path: string): unknown {
  let value = source;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || FORBIDDEN_KEYS.has(key) || !(key in value)) return undefined;
    if (key in Object.prototype && !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Express (`setHeader`) and Fastify (`header`) responses alike; nothing when there is no response object. */
function setHeader(response: unknown, name: string, value: string): void {
  const res = response as { setHeader?: (n: string, v: string) => void; header?: (n: string, v: string) => void };
  if (typeof res?.header === 'function') res.header(name, value);
  else if (typeof res?.setHeader === 'function') res.setHeader(name, value);
}
