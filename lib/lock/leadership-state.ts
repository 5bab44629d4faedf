/**
 * Pure decisions of a Leadership (no timers, no I/O), so that every interleaving of grant, loss, failed
 * join and close can be tested without a server: given the state and what happened, the next state and
 * what the machinery must do, in that order. (leadership.ts carries the actions out.)
 *
 *   joining ──granted──▶ leading ──term ended (loss)──▶ joining            (rejoin on the new session)
 *      │  ╲                 │
 *      │   join failed ──▶ pausing ──retry due──▶ joining
 *      │                    │
 *      └──── close, shutdown, or a term that ends during shutdown ──▶ closed
 */

export type LeadershipState =
  /** An acquire (wait: Infinity) is under way: queued behind the leader, or reaching ZooKeeper. */
  | { kind: 'joining'; failures: number }
  | { kind: 'leading' }
  /** The last join failed (no session, queue full, ...): waiting `rejoinDelay(failures)` before the next. */
  | { kind: 'pausing'; failures: number }
  | { kind: 'closed' };

export type LeadershipInput =
  | { type: 'granted' }
  /** `final`: the application is shutting down (or the leadership closed): do not try again. */
  | { type: 'join-failed'; final: boolean }
  /** The term's lock was lost (its signal aborted). `rejoin` is false during shutdown. */
  | { type: 'term-ended'; rejoin: boolean }
  | { type: 'retry-due' }
  /** close(), or the application's shutdown. */
  | { type: 'close' };

export type LeadershipAction =
  /** Start an acquire of the lock (wait: Infinity, with a signal that cancel-join aborts). */
  | 'join'
  /** Abort the pending acquire; a grant that lands anyway is released (see `granted` while closed). */
  | 'cancel-join'
  /** A new term: a fresh signal, isLeader true, emit true. */
  | 'begin-term'
  /** The term's signal aborts, isLeader false, emit false. Always before `release`: terms never overlap. */
  | 'end-term'
  /** Release the lock of the term (or of a grant that arrived after close). */
  | 'release'
  | 'schedule-retry'
  | 'cancel-retry'
  /** Complete changes$ and forget the leadership. */
  | 'finish';

export interface LeadershipStep {
  state: LeadershipState;
  actions: LeadershipAction[];
}

const CLOSED: LeadershipState = { kind: 'closed' };

export function nextLeadership(state: LeadershipState, input: LeadershipInput): LeadershipStep {
  switch (state.kind) {
    case 'joining':
      switch (input.type) {
        case 'granted':
          return { state: { kind: 'leading' }, actions: ['begin-term'] };
        case 'join-failed':
          return input.final
            ? { state: CLOSED, actions: ['finish'] }
            : { state: { kind: 'pausing', failures: state.failures + 1 }, actions: ['schedule-retry'] };
        case 'close':
          return { state: CLOSED, actions: ['cancel-join', 'finish'] };
        default:
          return { state, actions: [] };
      }
    case 'leading':
      switch (input.type) {
        case 'term-ended':
          return input.rejoin
            ? { state: { kind: 'joining', failures: 0 }, actions: ['end-term', 'release', 'join'] }
            : { state: CLOSED, actions: ['end-term', 'release', 'finish'] };
        case 'close':
          return { state: CLOSED, actions: ['end-term', 'release', 'finish'] };
        default:
          return { state, actions: [] };
      }
    case 'pausing':
      switch (input.type) {
        case 'retry-due':
          return { state: { kind: 'joining', failures: state.failures }, actions: ['join'] };
        case 'close':
          return { state: CLOSED, actions: ['cancel-retry', 'finish'] };
        default:
          return { state, actions: [] };
      }
    case 'closed':
      // A join cancelled by close may still have been granted: give that lock back at once.
      return { state, actions: input.type === 'granted' ? ['release'] : [] };
  }
}

export const REJOIN_BASE_MS = 100;
export const REJOIN_MAX_MS = 5_000;

/**
 * Pause before the next join after `failures` failed ones in a row (1 for the first): exponential from
 * 100 ms to 5 s, with half of it random so that a fleet that lost ZooKeeper does not rejoin in step.
 */
export function rejoinDelay(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(REJOIN_MAX_MS, REJOIN_BASE_MS * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
