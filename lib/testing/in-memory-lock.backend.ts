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
}

/** Why a waiter was taken out of its queue when its owner's "session" ended: it queues again. */
class Requeue extends Error {}

interface Waiter {
  readonly owner: string;
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
  readonly holders = new Map<string, MemoryGrant>();
  readonly queues = new Map<string, Waiter[]>();
  /** Stands in for ZooKeeper's zxid: grows with every grant. */
  counter = 0n;

  /** Frees `key` if `grant` holds it, handing it straight to the first waiter (first come first served). */
  free(key: string, grant: MemoryGrant): void {
    if (this.holders.get(key) !== grant) return;
    this.holders.delete(key);
    const queue = this.queues.get(key);
    const next = queue?.shift();
    if (queue?.length === 0) this.queues.delete(key);
    next?.admit();
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

  async acquire({ ids, scope, wait, signal }: LockRequest): Promise<MemoryGrant> {
    await Promise.resolve(); // never synchronous, like a round trip
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    signal?.throwIfAborted();
    const keys = ids.map((id) => lockKey(scope, id)).sort();
    if (wait === 0) return this.grantAllAtOnce(this.newGrant(keys));
    const deadline = performance.now() + wait;
    for (;;) {
      // A fresh grant per round: a waiter whose session ended queues again under the new one, as the
      // ZooKeeper recipe re-creates its queue node on the new session, within its own deadline.
      const grant = this.newGrant(keys);
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
      if (this.store.holders.get(key) !== grant) throw new GrantGoneError('its lock is no longer held');
      const own = grant.tokens.get(key) ?? 0n;
      if (own > token) token = own;
    }
    return token;
  }

  async inspect(scope: string, id: string): Promise<LockInfo> {
    await Promise.resolve(); // a read, like a round trip
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    return this.describe(lockKey(scope, id), id, scope);
  }

  async list(scope?: string): Promise<LockInfo[]> {
    await Promise.resolve();
    if (this.unavailable) throw new LockUnavailableError('ZooKeeper unavailable (simulated by InMemoryLockBackend)');
    const found: LockInfo[] = [];
    for (const key of this.store.holders.keys()) {
      const parsed = parseLockKey(key);
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
    const grant = this.grantAllAtOnce({ owner: newOwner(), keys, tokens: new Map(), ownerName: options.owner ?? 'another instance', since: new Map() });
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
    return this.store.holders.has(lockKey(normalizeScope(options.scope), id));
  }

  // ---------------------------------------------------------------- machinery

  private newGrant(keys: string[]): MemoryGrant {
    return { owner: this.owner, keys, tokens: new Map(), ownerName: this.ownerName, since: new Map() };
  }

  private describe(key: string, id: string, scope: string): LockInfo {
    const grant = this.store.holders.get(key);
    const waiting = this.store.queues.get(key)?.length ?? 0;
    if (!grant) return { id, scope, mode: 'free', holders: [], waiting };
    const holder = { owner: grant.ownerName, since: grant.since.get(key)!, fencingToken: grant.tokens.get(key)! };
    return { id, scope, mode: 'exclusive', holders: [holder], waiting };
  }

  private endSession(ended: string, reason: string): void {
    // Waiters first, so that no lock freed below is handed to a waiter of the ended session.
    for (const queue of [...this.store.queues.values()]) {
      for (const waiter of queue.filter((w) => w.owner === ended)) waiter.leave(new Requeue());
    }
    for (const [key, grant] of [...this.store.holders]) if (grant.owner === ended) this.store.free(key, grant);
    this.lossSubject.next({ owner: ended, reason });
  }

  /** Fail-fast: every key of the grant, or LockConflictError naming the first one held. */
  private grantAllAtOnce(grant: MemoryGrant): MemoryGrant {
    const held = grant.keys.find((key) => this.store.holders.has(key));
    if (held !== undefined) {
      const { id, scope } = parseLockKey(held);
      throw new LockConflictError([id], scope, 0);
    }
    for (const key of grant.keys) this.grant(key, grant);
    return grant;
  }

  private grant(key: string, grant: MemoryGrant): void {
    this.store.counter += 1n;
    this.store.holders.set(key, grant);
    grant.tokens.set(key, this.store.counter);
    grant.since.set(key, new Date());
  }

  /** Waits in `key`'s queue until it is handed over, the deadline passes, the signal aborts or the session ends. */
  private queueFor(key: string, grant: MemoryGrant, deadline: number, wait: number, signal?: AbortSignal): Promise<void> {
    const queue = this.store.queues.get(key);
    if (!this.store.holders.has(key) && !queue?.length) {
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
        reject(error);
      };
      const waiter: Waiter = {
        owner: grant.owner,
        admit: () => {
          settle();
          this.grant(key, grant);
          resolve();
        },
        leave,
      };
      const onAbort = () => leave(signal!.reason);
      const remaining = deadline - performance.now();
      const { id, scope } = parseLockKey(key);
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

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function newOwner(): string {
  return `memory-${randomBytes(4).toString('hex')}`;
}
