import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Subject } from 'rxjs';
import { GrantGoneError, GrantLoss, LockBackend, LockGrant, LockRequest } from '../lock/lock-backend';
import { LockConflictError, LockUnavailableError } from '../lock/lock.errors';
import { lockKey, normalizeIds, normalizeScope, parseLockKey } from '../lock/lock-id';
import { MAX_TIMER_DELAY, validOwnerName } from '../module/zookeeper-lock-options';
import { ZOOKEEPER_LOCK_OPTIONS } from '../module/zookeeper-lock.module-definition';
import type { LockInfo } from '../lock/lock-info';

interface MemoryGrant extends LockGrant {
  readonly keys: string[];
  /** Fencing token of each key, taken from the store's counter when the key was granted. */
  readonly tokens: Map<string, bigint>;
  /** The holder's ownerName, as a ZooKeeper node carries it. */
  readonly ownerName: string;
  /** When each key was granted. */
  readonly since: Map<string, Date>;
  /** How it holds its keys: one exclusive holder, or one of the shared or limited ones. */
  readonly mode: MemoryMode;
}

type MemoryMode = { kind: 'exclusive' } | { kind: 'shared' } | { kind: 'limited'; limit: number };

/** Why a waiter was taken out of its queue when its owner's "session" ended: it queues again. */
class Requeue extends Error {}

interface Waiter {
  readonly owner: string;
  readonly mode: MemoryMode;
  /** Called when the key is handed over to this waiter. */
  readonly admit: () => void;
  /** Takes the waiter out of the queue and fails its acquire. */
  readonly leave: (error: unknown) => void;
}

/**
 * The shared state of in-memory locks: what ZooKeeper is to the real backend. Several
 * InMemoryLockBackend instances on one store behave like application instances on one ensemble.
 */
export class InMemoryLockStore {
  /** Exclusive holders by key. */
  readonly holders = new Map<string, MemoryGrant>();
  /** Shared holders, and limited ones (under their own keys), by key. */
  readonly groups = new Map<string, Set<MemoryGrant>>();
  /** Waiters by key, first come first served (callers waiting, not holders). */
  readonly queues = new Map<string, Waiter[]>();
  /** Stands in for ZooKeeper's zxid: grows with every grant. */
  counter = 0n;

  /** True when `grant` holds `key`. */
  holds(key: string, grant: MemoryGrant): boolean {
    return this.holders.get(key) === grant || (this.groups.get(key)?.has(grant) ?? false);
  }

  /** Whether a caller of `mode` may take `key` now, with `ahead` waiters before it (first come, first served). */
  mayTake(key: string, mode: MemoryMode, ahead: Waiter[]): boolean {
    const group = this.groups.get(key);
    switch (mode.kind) {
      case 'exclusive':
        return ahead.length === 0 && !this.holders.has(key) && !group?.size;
      case 'shared':
        // Behind a waiting exclusive caller, a shared one waits too (it is never starved).
        return !this.holders.has(key) && !ahead.some((w) => w.mode.kind === 'exclusive');
      case 'limited': {
        // As on ZooKeeper (semaphore.ts): fewer callers ahead (holders and waiters) than the smallest
        // limit among them and this one.
        let limit = mode.limit;
        for (const holder of group ?? []) if (holder.mode.kind === 'limited') limit = Math.min(limit, holder.mode.limit);
        for (const waiter of ahead) if (waiter.mode.kind === 'limited') limit = Math.min(limit, waiter.mode.limit);
        return (group?.size ?? 0) + ahead.length < limit;
      }
    }
  }

  take(key: string, grant: MemoryGrant): void {
    if (grant.mode.kind === 'exclusive') {
      this.holders.set(key, grant);
      return;
    }
    const group = this.groups.get(key) ?? new Set<MemoryGrant>();
    group.add(grant);
    this.groups.set(key, group);
  }

  /** Frees `key` if `grant` holds it, handing it on to the waiters that may take it now, in order. */
  free(key: string, grant: MemoryGrant): void {
    if (this.holders.get(key) === grant) this.holders.delete(key);
    else {
      const group = this.groups.get(key);
      if (!group?.delete(grant)) return;
      if (group.size === 0) this.groups.delete(key);
    }
    this.admit(key);
  }

  /** Admits waiters from the head of `key`'s queue while they may take it. */
  admit(key: string): void {
    const queue = this.queues.get(key);
    while (queue && queue.length > 0 && this.mayTake(key, queue[0].mode, [])) {
      const next = queue.shift()!;
      if (queue.length === 0) this.queues.delete(key);
      next.admit();
    }
  }
}

/**
 * Locks inside one process, with the semantics of the ZooKeeper backend: fail-fast conflicts, a FIFO
 * queue with deadlines and abort, all-or-none multi-id locks, growing fencing tokens, loss on "session"
 * end. For unit tests of code that uses locks (see ZookeeperLockTestingModule), never for production:
 * it locks nothing across processes.
 *
 * Test helpers: `holdElsewhere` (another instance holds a lock), `expireSession` (this instance's
 * session ends and its locks are lost), `unavailable` (ZooKeeper cannot be reached), `isHeld`.
 */
@Injectable()
export class InMemoryLockBackend implements LockBackend {
  private readonly lossSubject = new Subject<GrantLoss>();
  readonly losses = this.lossSubject.asObservable();
  private owner = newOwner();
  /** Set to make every acquire fail with LockUnavailableError, as when ZooKeeper is down. */
  unavailable = false;
  /** Who this instance is (the module option `ownerName`; default `<hostname>/<pid>`), as inspect reports it. */
  readonly ownerName: string;

  constructor(
    @Optional() readonly store: InMemoryLockStore = new InMemoryLockStore(),
    @Optional() @Inject(ZOOKEEPER_LOCK_OPTIONS) options?: { ownerName?: string },
  ) {
    this.ownerName = validOwnerName(options?.ownerName);
  }

  async acquire({ ids, scope, wait, signal, shared, limit }: LockRequest): Promise<MemoryGrant> {
    await Promise.resolve(); // never synchronous, like a round trip
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    signal?.throwIfAborted();
    const mode: MemoryMode = limit !== undefined ? { kind: 'limited', limit } : shared ? { kind: 'shared' } : { kind: 'exclusive' };
    // A limited lock is a lock of its own, apart from the exclusive/shared one of the same id.
    const keys = ids.map((id) => lockKey(scope, id) + (mode.kind === 'limited' ? LIMITED : '')).sort();
    if (wait === 0) return this.grantAllAtOnce(this.newGrant(keys, mode));
    const deadline = performance.now() + wait;
    for (;;) {
      // A fresh grant per round: a waiter whose session ended queues again under the new one, as the
      // ZooKeeper recipe re-creates its queue node on the new session, within its own deadline.
      const grant = this.newGrant(keys, mode);
      try {
        for (const key of keys) await this.queueFor(key, grant, deadline, wait, signal);
        return grant;
      } catch (error) {
        for (const key of grant.tokens.keys()) this.store.free(key, grant);
        if (!(error instanceof Requeue)) throw error;
      }
    }
  }

  async release(grant: MemoryGrant): Promise<void> {
    for (const key of grant.keys) this.store.free(key, grant);
  }

  async fencingToken(grant: MemoryGrant): Promise<bigint> {
    let token = 0n;
    for (const key of grant.keys) {
      if (!this.store.holds(key, grant)) throw new GrantGoneError('its lock is no longer held');
      const own = grant.tokens.get(key) ?? 0n;
      if (own > token) token = own;
    }
    return token;
  }

  async inspect(scope: string, id: string): Promise<LockInfo> {
    await Promise.resolve(); // a read, like a round trip
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    const info = this.describe(lockKey(scope, id), id, scope);
    // Free as an exclusive/shared lock: its limited lock, if that is what the id is used as.
    return info.mode === 'free' && this.store.groups.has(lockKey(scope, id) + LIMITED) ? this.describe(lockKey(scope, id) + LIMITED, id, scope) : info;
  }

  async list(scope?: string): Promise<LockInfo[]> {
    await Promise.resolve();
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    const found: LockInfo[] = [];
    for (const key of new Set([...this.store.holders.keys(), ...this.store.groups.keys()])) {
      const parsed = parseLockKey(key.endsWith(LIMITED) ? key.slice(0, -LIMITED.length) : key);
      if (scope === undefined || parsed.scope === scope) found.push(this.describe(key, parsed.id, parsed.scope));
    }
    return found.sort((x, y) => compare(x.scope, y.scope) || compare(x.id, y.id));
  }

  /**
   * The end of this instance's "session" at application shutdown, as ZookeeperService's close is for the
   * real backend: its locks are freed for the other instances on the store, and reported lost here. The
   * backend then goes on with a new session, so a test may start another application on it.
   */
  async shutdown(): Promise<void> {
    const ended = this.owner;
    this.owner = newOwner();
    this.endSession(ended, 'the in-memory session was closed at shutdown');
  }

  // ---------------------------------------------------------------- test helpers

  /**
   * Takes `id` as another application instance would: this backend's callers then get conflicts (or
   * wait) until the returned function frees it. Throws LockConflictError when it is held already.
   */
  holdElsewhere(id: string | string[], options: { scope?: string; owner?: string } = {}): () => void {
    const scope = normalizeScope(options.scope);
    const keys = normalizeIds(id).map((each) => lockKey(scope, each));
    const grant = this.grantAllAtOnce({
      owner: newOwner(),
      keys,
      tokens: new Map(),
      ownerName: options.owner ?? 'another instance',
      since: new Map(),
      mode: { kind: 'exclusive' },
    });
    return () => keys.forEach((key) => this.store.free(key, grant));
  }

  /**
   * Ends this instance's "session": every lock it holds is lost (signals abort) and handed to the next
   * waiter of another session (or freed). Its own waiters lose their place, as ZooKeeper drops their
   * ephemeral queue nodes, and queue again at the back under the new session, within their deadline.
   */
  expireSession(): void {
    const ended = this.owner;
    this.owner = newOwner();
    this.endSession(ended, `session ${ended} expired (simulated by InMemoryLockBackend)`);
  }

  /** True while someone (here or "elsewhere") holds `id`. */
  isHeld(id: string, options: { scope?: string } = {}): boolean {
    const key = lockKey(normalizeScope(options.scope), id);
    return this.store.holders.has(key) || this.store.groups.has(key);
  }

  // ---------------------------------------------------------------- machinery

  private newGrant(keys: string[], mode: MemoryMode): MemoryGrant {
    return { owner: this.owner, keys, tokens: new Map(), ownerName: this.ownerName, since: new Map(), mode };
  }

  /** `key` is the exclusive/shared lock's; its limited lock (if any) is reported by `list` on its own. */
  private describe(key: string, id: string, scope: string): LockInfo {
    const grant = this.store.holders.get(key);
    const group = [...(this.store.groups.get(key) ?? [])];
    const waiting = this.store.queues.get(key)?.length ?? 0;
    const holders = (grant ? [grant] : group).map((each) => ({
      owner: each.ownerName,
      since: each.since.get(key)!,
      fencingToken: each.tokens.get(key)!,
    }));
    holders.sort((x, y) => (x.fencingToken < y.fencingToken ? -1 : 1));
    const mode = grant ? 'exclusive' : group.length === 0 ? 'free' : group[0].mode.kind === 'limited' ? 'limited' : 'shared';
    return { id, scope, mode, holders, waiting };
  }

  private endSession(ended: string, reason: string): void {
    // Waiters first, so that no lock freed below is handed to a waiter of the ended session.
    for (const queue of [...this.store.queues.values()]) {
      for (const waiter of queue.filter((w) => w.owner === ended)) waiter.leave(new Requeue());
    }
    for (const [key, grant] of [...this.store.holders]) if (grant.owner === ended) this.store.free(key, grant);
    for (const [key, group] of [...this.store.groups]) for (const grant of [...group]) if (grant.owner === ended) this.store.free(key, grant);
    this.lossSubject.next({ owner: ended, reason });
  }

  /**
   * Fail-fast: every key of the grant, or LockConflictError naming the first one held. An exclusive
   * caller is not refused for waiters alone (on ZooKeeper it does not look at the queue either).
   */
  private grantAllAtOnce(grant: MemoryGrant): MemoryGrant {
    const held = grant.keys.find((key) => {
      const queue = this.store.queues.get(key) ?? [];
      return !this.store.mayTake(key, grant.mode, grant.mode.kind === 'exclusive' ? [] : queue);
    });
    if (held !== undefined) {
      const { id, scope } = parseLockKey(held.endsWith(LIMITED) ? held.slice(0, -LIMITED.length) : held);
      throw new LockConflictError([id], scope, 0);
    }
    for (const key of grant.keys) this.grant(key, grant);
    return grant;
  }

  private grant(key: string, grant: MemoryGrant): void {
    this.store.counter += 1n;
    this.store.take(key, grant);
    grant.tokens.set(key, this.store.counter);
    grant.since.set(key, new Date());
  }

  /** Waits in `key`'s queue until it is handed over, the deadline passes, the signal aborts or the session ends. */
  private queueFor(key: string, grant: MemoryGrant, deadline: number, wait: number, signal?: AbortSignal): Promise<void> {
    const queue = this.store.queues.get(key);
    if (this.store.mayTake(key, grant.mode, queue ?? [])) {
      this.grant(key, grant);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: unknown) => {
        settle();
        const list = this.store.queues.get(key);
        const index = list?.indexOf(waiter) ?? -1;
        if (index >= 0) list!.splice(index, 1);
        if (list?.length === 0) this.store.queues.delete(key);
        // A waiter that leaves may have held back those behind it (an exclusive one, shared ones).
        if (index === 0) this.store.admit(key);
        reject(error);
      };
      const waiter: Waiter = {
        owner: grant.owner,
        mode: grant.mode,
        admit: () => {
          settle();
          this.grant(key, grant);
          resolve();
        },
        leave,
      };
      const onAbort = () => leave(signal!.reason);
      const remaining = deadline - performance.now();
      const { id, scope } = parseLockKey(key.endsWith(LIMITED) ? key.slice(0, -LIMITED.length) : key);
      // Beyond the longest timer delay (about 24.8 days) a Node timer would fire after 1 ms: no timer.
      const timer = remaining <= MAX_TIMER_DELAY
        ? setTimeout(() => leave(new LockConflictError([id], scope, wait)), Math.max(0, remaining))
        : undefined;
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const list = queue ?? [];
      list.push(waiter);
      this.store.queues.set(key, list);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort(); // aborted before we listened: the event is gone
    });
  }
}

/** Suffix of a limited lock's key (it is a lock of its own, as `<id>%l` is on ZooKeeper). */
const LIMITED = '\u0000limited';

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function newOwner(): string {
  return `memory-${randomBytes(4).toString('hex')}`;
}
