import type { Logger } from '@nestjs/common';
import type { ZookeeperState } from '../zookeeper/zookeeper.service';

/**
 * What happens to locks and to the session, for metrics and tracing: the one hook is the module option
 * `onLockEvent`. It is called synchronously on the event's path, so keep it cheap (count, record, enqueue);
 * an exception it throws is logged and otherwise ignored.
 */
export type LockEvent =
  | LockAcquiredEvent
  | LockConflictEvent
  | LockReleasedEvent
  | LockLostEvent
  | LockUnavailableEvent
  | SessionStateEvent;

interface LockEventBase {
  /** The ids as given to the acquisition (for a nested acquisition, only the ids it took itself). */
  readonly ids: string[];
  readonly scope: string;
}

/** The lock was taken. `waitedMs` is how long it took, queueing included (the "waited" figure). */
export interface LockAcquiredEvent extends LockEventBase {
  readonly type: 'acquired';
  /** The caller allowed waiting (`wait > 0`) and so went through the queue. */
  readonly queued: boolean;
  readonly waitedMs: number;
}

/** The lock was held by someone else: at once (`waitedMs` ~0), or still after waiting `waitedMs`. */
export interface LockConflictEvent extends LockEventBase {
  readonly type: 'conflict';
  readonly waitedMs: number;
}

/** The lock was released by its holder after `heldMs`. */
export interface LockReleasedEvent extends LockEventBase {
  readonly type: 'released';
  readonly heldMs: number;
}

/** The lock stopped being trustworthy after `heldMs` (session expired or lost, shutdown); see LockLostError. */
export interface LockLostEvent extends LockEventBase {
  readonly type: 'lost';
  readonly heldMs: number;
  readonly reason: string;
}

/** The lock could not be taken because ZooKeeper could not be reached (or refused access). */
export interface LockUnavailableEvent extends LockEventBase {
  readonly type: 'unavailable';
  readonly waitedMs: number;
  readonly message: string;
}

/** The ZooKeeper session changed state (see ZookeeperService.state$). */
export interface SessionStateEvent {
  readonly type: 'session';
  readonly state: ZookeeperState;
  /** Hex id of the session the state is about, when there is one. */
  readonly sessionId?: string;
}

export type LockEventListener = (event: LockEvent) => void;

/** Calls the listener, so that a throwing listener can never break locking. */
export function notifyListener(listener: LockEventListener | undefined, event: LockEvent, logger: Logger): void {
  if (!listener) return;
  try {
    listener(event);
  } catch (error) {
    logger.error(`onLockEvent threw on a ${event.type} event: ${(error as Error)?.message ?? String(error)}`);
  }
}
