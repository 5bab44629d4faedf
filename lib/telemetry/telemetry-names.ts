/**
 * Names of the library's OpenTelemetry instruments, span and attributes (documented in the README's
 * Telemetry section). Attributes are low-cardinality on purpose: scopes are a few fixed names; lock ids are
 * never recorded (they may be user input, and `hashIds` users hide them).
 */
export const METRIC = {
  acquired: 'zookeeper.lock.acquired',
  conflicts: 'zookeeper.lock.conflicts',
  unavailable: 'zookeeper.lock.unavailable',
  lost: 'zookeeper.lock.lost',
  waitDuration: 'zookeeper.lock.wait.duration',
  holdDuration: 'zookeeper.lock.hold.duration',
  sessionState: 'zookeeper.lock.session.state',
} as const;

export const SPAN_ACQUIRE = 'zookeeper.lock.acquire';

export const ATTRIBUTE = {
  /** The lock's scope (`default` unless given). */
  scope: 'zookeeper.lock.scope',
  /** `fail-fast` (wait 0) or `queued` (wait > 0). */
  mode: 'zookeeper.lock.mode',
  /** Span: the acquire joined the id's queue (a queued acquire refused before it, e.g. by maxWaiters, did not). */
  queued: 'zookeeper.lock.queued',
  /** Span: how many ids were taken together. */
  idCount: 'zookeeper.lock.id_count',
  /** `acquired`, `conflict`, `unavailable`, `aborted` (the caller's signal) or `error`. */
  outcome: 'zookeeper.lock.outcome',
  /** Hold duration: how the hold ended, `released` or `lost`. */
  end: 'zookeeper.lock.end',
  /** Session state gauge: one series per state, 1 for the current one. */
  sessionState: 'zookeeper.session.state',
} as const;

/** Bucket boundaries (seconds) for lock waits and holds: from a fail-fast round trip to a long job. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
