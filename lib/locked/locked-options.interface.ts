import type { LockOptions } from '../lock/lock.service';

/**
 * Which lock a @Locked method takes:
 * - a fixed id, or several: `'nightly-settlement'`, `['ledger', 'fx-rates']` (ids, not paths);
 * - or a function of the method's arguments (called with the instance as `this`).
 * It must produce a non-empty string, or an array of them (all or none).
 */
export type LockedIdSource<TArgs extends unknown[] = any[]> = // eslint-disable-line @typescript-eslint/no-explicit-any
  string | readonly string[] | ((...args: TArgs) => string | string[]);

export interface LockedOptions extends Pick<LockOptions, 'scope' | 'wait' | 'normalizeId' | 'maxHold' | 'holdAtLeast' | 'shared' | 'limit'> {
  /**
   * When the lock is held elsewhere (and, with `wait`, not freed in time):
   * - `'throw'` (default): the call rejects with LockConflictError, like any other failure of the method;
   * - `'skip'`: the method does not run and the call resolves to `undefined` (e.g. a cron job that
   *   another instance is running already). The method must then be declared to return
   *   `Promise<T | undefined>` (or `Promise<void>`), which the compiler checks.
   * LockUnavailableError (ZooKeeper unreachable) and InvalidLockIdError are always thrown.
   */
  onConflict?: 'throw' | 'skip';
}

export interface LockedMetadata {
  idFrom: LockedIdSource;
  options: LockedOptions;
}

/** The roots of @WithLock's request paths: a fixed @Locked id starting with one is a mistake. */
export type RequestPathRoot = 'params' | 'query' | 'body' | 'headers' | 'args';

/** `'params.id'` and the like: what @WithLock reads from a request, never a fixed @Locked id. */
export type RequestPath = `${RequestPathRoot}.${string}`;

/** Fails to compile (a readable property in the error) when a fixed id looks like a request path. */
export type NotARequestPath<Id> = [Extract<Id extends readonly (infer Each)[] ? Each : Id, RequestPath>] extends [never]
  ? unknown
  : { '@Locked takes lock ids, not request paths: to lock on an argument, pass a function of the arguments, e.g. (id: string) => id': never };

/** With these options the call may be skipped (onConflict 'skip', or not known to be something else). */
type MaySkip<O> = 'skip' extends NonNullable<O['onConflict' & keyof O]> ? true : false;

/** With 'skip', the method's promise must admit `undefined`, which a skipped call resolves to. */
type SkipCheck<M, O> =
  MaySkip<O> extends true
    ? M extends (...args: any[]) => PromiseLike<infer R> // eslint-disable-line @typescript-eslint/no-explicit-any
      ? undefined extends R
        ? unknown
        : { "@Locked with onConflict 'skip' resolves to undefined when skipped: declare the method to return Promise<T | undefined>": never }
      : unknown
    : unknown;

/** The id function must not read arguments the method does not take. */
type ArgsCheck<M, TArgs extends unknown[]> = M extends (...args: infer P) => unknown
  ? P extends [...TArgs, ...unknown[]]
    ? unknown
    : { '@Locked: the id function takes more arguments than the method': never }
  : unknown;

/**
 * What @Locked returns: a decorator for methods whose parameters begin with those of the id function and
 * that are declared to return a promise (the decorated method always does, even if its body is
 * synchronous), one that admits `undefined` with `onConflict: 'skip'`.
 */
export type LockedMethodDecorator<TArgs extends unknown[], O> = <M extends (...args: [...TArgs, ...any[]]) => PromiseLike<unknown>>( // eslint-disable-line @typescript-eslint/no-explicit-any
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M> & SkipCheck<M, O> & ArgsCheck<M, TArgs>,
) => void;
