/**
 * When may our ZooKeeper session be gone? Pure decisions for the service's watchdog, from the NEGOTIATED
 * session timeout (the server clamps what we ask for to its min/maxSessionTimeout).
 *
 * What the server measures: it expires a session one session timeout (rounded UP to its tick) after the
 * last packet it RECEIVED from us. The only thing that proves the server received something is an answer
 * to it, so our estimate is `confirmedAt`: the time we SENT the latest request (or heartbeat, or
 * handshake) that the server answered. Bytes arriving prove nothing about the server having heard us (a
 * watch notification, a reply to an older request); so does the socket looking open.
 *
 * On an ensemble, sessions are expired by the LEADER, which learns of our requests from the member we
 * are connected to. A follower cut off from the leader keeps answering reads (and pings) until it
 * notices, up to syncLimit x tickTime later, while the leader may already expire us. So only answers to
 * requests that go through the leader count: writes (whatever their result) and sync, which is also
 * the heartbeat. Reads confirm nothing.
 *
 * Hence: the server cannot expire the session, and no other session can take our ephemeral nodes,
 * before `confirmedAt + timeout`. We give the session up as lost `margin` earlier, which covers the
 * watchdog's own tick and timers that run late.
 */
export interface WatchdogPlan {
  /** Period of the watchdog's check. */
  readonly checkEvery: number;
  /** Connected and nothing confirmed for this long: send a heartbeat (a sync). */
  readonly heartbeatAfter: number;
  /** Connected and nothing confirmed for this long: the connection is silent; drop it and reconnect. */
  readonly dropAfter: number;
  /** Nothing confirmed for this long, in any state: the session (and every lock of it) is lost. */
  readonly lostAfter: number;
}

export function watchdogPlan(negotiatedTimeout: number): WatchdogPlan {
  const timeout = Math.max(1, negotiatedTimeout);
  const checkEvery = clamp(Math.floor(timeout / 20), 20, 500);
  // Three checks, or a sixth of the session, whichever is more: a timer that runs late on a busy event
  // loop must still give the session up before the server can.
  const margin = Math.max(3 * checkEvery, Math.floor(timeout / 6));
  return {
    checkEvery,
    // Java's client pings a third into the session; we confirm twice as often, so that an event-loop
    // pause of up to about half the session timeout costs no false loss.
    heartbeatAfter: Math.floor(timeout / 6),
    // Early enough to leave time for a reconnect (to another member) before `lostAfter`.
    dropAfter: Math.floor(timeout / 2),
    lostAfter: timeout - margin,
  };
}

export type WatchdogVerdict = 'ok' | 'heartbeat' | 'drop' | 'lost';

/**
 * What to do now about a session that has an id (one that could be lost).
 * `confirmedFor`: ms since the send time of the latest request the server answered.
 */
export function watchdogVerdict(plan: WatchdogPlan, confirmedFor: number, connected: boolean, heartbeatInFlight: boolean): WatchdogVerdict {
  if (confirmedFor >= plan.lostAfter) return 'lost';
  if (!connected) return 'ok';
  if (confirmedFor >= plan.dropAfter) return 'drop';
  if (confirmedFor >= plan.heartbeatAfter && !heartbeatInFlight) return 'heartbeat';
  return 'ok';
}

/**
 * The liveness facts of one session that the watchdog decides on. Times are `performance.now()`: a
 * monotonic clock, so that a wall-clock step (NTP) can neither delay nor hasten a loss.
 */
export class SessionLiveness {
  /** Send time of the latest request the server answered (0: none yet). */
  confirmedAt = 0;
  heartbeatInFlight = false;
  /** When the session was started: no handshake of it was sent earlier. */
  openedAt = 0;

  /** The server answered a request we sent at `sentAt`. */
  confirm(sentAt: number): void {
    if (sentAt > this.confirmedAt) this.confirmedAt = sentAt;
  }
}

/** Requests that an ensemble's leader answers (directly, or through the member we are connected to). */
const LEADER_ANSWERED: ReadonlySet<string> = new Set(['create', 'remove', 'setData', 'setACL', 'multi', 'sync']);

/** Whether an answer to the request named `operation` proves the session alive (see the top of this file). */
export function confirmsSession(operation: string): boolean {
  return LEADER_ANSWERED.has(operation);
}

/**
 * Error codes the client makes up itself, without any answer from the server (the connection dropped,
 * or the client already knows the session is over): such a reply proves nothing about the server.
 */
export const LOCAL_CLIENT_CODES: ReadonlySet<number> = new Set([-4 /* CONNECTION_LOSS */, -112 /* SESSION_EXPIRED */, -115 /* AUTH_FAILED */]);

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
