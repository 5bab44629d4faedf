import type { Logger } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { LockHandle } from './lock-handle';
import { LockLostError } from './lock.errors';
import { LeadershipAction, LeadershipInput, LeadershipState, nextLeadership, rejoinDelay } from './leadership-state';

/** What a Leadership needs from LockService. */
export interface LeadershipPort {
  /** Takes the election's lock: waits for ever (until `signal` aborts), never joins a lock of the caller's context. */
  acquire(signal: AbortSignal): Promise<LockHandle>;
  /** True once the application's shutdown began: a lost or failed term is not followed by a rejoin. */
  shuttingDown(): boolean;
  /** Called once, when the leadership is over (closed, or ended by the shutdown). */
  finished(leadership: Leadership): void;
  readonly logger: Pick<Logger, 'warn' | 'log'>;
}

/**
 * One instance's place in the election for an id (see LockService.leader): a queued lock held for as
 * long as this instance leads. Terms never overlap: a term ends (its `signal` aborts, `changes$` emits
 * false) before its lock is released, and a lost session aborts it before the server expires the
 * session (the session watchdog's guarantee), so before any other instance can be granted the lock.
 * The decisions are in leadership-state.ts; this class carries them out.
 */
export class Leadership {
  private state: LeadershipState = { kind: 'joining', failures: 0 };
  private readonly subject = new Subject<boolean>();
  /** Emits true when this instance becomes leader, false when its term ends; completes once closed. */
  readonly changes$: Observable<boolean> = this.subject.asObservable();
  /** Aborts the pending join (close, shutdown). */
  private joinController?: AbortController;
  /** The lock of the current term. */
  private handle?: LockHandle;
  private term?: AbortController;
  private onLockLost?: () => void;
  private retryTimer?: NodeJS.Timeout;
  /** Joins and releases under way: close() resolves once they have settled, so nothing is left behind. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Inputs that arrived while an earlier one was being carried out (from listeners of our own events). */
  private readonly inbox: Array<{ input: LeadershipInput; reason?: unknown; granted?: LockHandle }> = [];
  private dispatching = false;
  /** Failed joins in a row are logged once, not once per retry. */
  private complained = false;

  constructor(
    readonly id: string,
    readonly scope: string,
    private readonly port: LeadershipPort,
  ) {
    this.perform('join');
  }

  /** True while this instance is the leader (between the `true` and the `false` of `changes$`). */
  get isLeader(): boolean {
    return this.state.kind === 'leading';
  }

  /**
   * The current term's signal: not aborted while this instance leads, aborted (with the reason: a
   * LockLostError) as soon as the term ends. When not leading, an aborted signal (the last term's, or one
   * that says so), so that `if (leadership.signal.aborted) return` guards leader-only work.
   */
  get signal(): AbortSignal {
    return this.term?.signal ?? (this.notLeader ??= AbortSignal.abort(new LockLostError([this.id], this.scope, 'this instance has not been the leader yet')));
  }
  private notLeader?: AbortSignal;

  /** The current term's fencing token (grows with every term); rejects with LockLostError when not leading. */
  fencingToken(): Promise<bigint> {
    if (!this.handle || this.state.kind !== 'leading') return Promise.reject(this.signal.reason);
    return this.handle.fencingToken();
  }

  /**
   * Steps down (the term's signal aborts first, then the lock is released) or leaves the queue (a pending
   * join is cancelled and its queue node removed). Resolves once that is done. Idempotent.
   */
  close(): Promise<void> {
    return this.end(new LockLostError([this.id], this.scope, 'the leadership was closed'));
  }

  /** Ends the leadership for `reason` (close, or LockService's shutdown): no rejoin after it. */
  end(reason: unknown): Promise<void> {
    this.dispatch({ type: 'close' }, reason);
    return this.settled();
  }

  // ---------------------------------------------------------------- machinery

  private async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private dispatch(input: LeadershipInput, reason?: unknown, granted?: LockHandle): void {
    this.inbox.push({ input, reason, granted });
    if (this.dispatching) return; // a listener of ours reacted synchronously: after the current input
    this.dispatching = true;
    try {
      for (let next = this.inbox.shift(); next; next = this.inbox.shift()) {
        const step = nextLeadership(this.state, next.input);
        this.state = step.state;
        for (const action of step.actions) this.perform(action, next.reason, next.granted);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private perform(action: LeadershipAction, reason?: unknown, granted?: LockHandle): void {
    switch (action) {
      case 'join':
        return this.join();
      case 'cancel-join':
        this.joinController?.abort(reason);
        return;
      case 'begin-term':
        return this.beginTerm(granted!);
      case 'end-term':
        return this.endTerm(reason);
      case 'release': {
        const handle = granted ?? this.handle;
        if (handle === this.handle) this.handle = undefined;
        if (handle) this.track(handle.release().catch((e) => this.port.logger.warn(`${this.describe()}: release failed: ${(e as Error).message}`)));
        return;
      }
      case 'schedule-retry': {
        const failures = this.state.kind === 'pausing' ? this.state.failures : 1;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.dispatch({ type: 'retry-due' });
        }, rejoinDelay(failures));
        return;
      }
      case 'cancel-retry':
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        return;
      case 'finish':
        this.subject.complete();
        this.port.finished(this);
        return;
    }
  }

  private join(): void {
    const controller = new AbortController();
    this.joinController = controller;
    const joined = this.port.acquire(controller.signal).then(
      (handle) => {
        if (this.joinController === controller) this.joinController = undefined;
        if (handle.signal.aborted) {
          // Lost between the grant and now (its session ended): never a term; release, then try again.
          this.track(handle.release().catch(() => undefined));
          this.dispatch({ type: 'join-failed', final: this.port.shuttingDown() }, handle.signal.reason);
          return;
        }
        this.complained = false;
        this.dispatch({ type: 'granted' }, undefined, handle);
      },
      (error: unknown) => {
        if (this.joinController === controller) this.joinController = undefined;
        const final = controller.signal.aborted || this.port.shuttingDown();
        if (!final && !this.complained) {
          this.complained = true;
          this.port.logger.warn(`${this.describe()}: could not join the election (${(error as Error).message}); trying again`);
        }
        this.dispatch({ type: 'join-failed', final }, error);
      },
    );
    this.track(joined);
  }

  private beginTerm(handle: LockHandle): void {
    this.handle = handle;
    const term = new AbortController();
    this.term = term;
    // Reading the handle's signal also watches the lock's node: taken away by anyone, the term ends.
    this.onLockLost = () => this.dispatch({ type: 'term-ended', rejoin: !this.port.shuttingDown() }, handle.signal.reason);
    handle.signal.addEventListener('abort', this.onLockLost, { once: true });
    this.port.logger.log(`${this.describe()}: this instance is the leader`);
    this.subject.next(true);
  }

  private endTerm(reason: unknown): void {
    const handle = this.handle;
    if (handle && this.onLockLost) handle.signal.removeEventListener('abort', this.onLockLost);
    this.onLockLost = undefined;
    this.term?.abort(handle?.signal.aborted ? handle.signal.reason : reason);
    this.port.logger.log(`${this.describe()}: term ended (${(this.term?.signal.reason as Error | undefined)?.message ?? 'closed'})`);
    this.subject.next(false);
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    const done = () => this.pending.delete(work);
    work.then(done, done);
  }

  private describe(): string {
    return `Leadership ${JSON.stringify(this.id)} in scope ${JSON.stringify(this.scope)}`;
  }
}
