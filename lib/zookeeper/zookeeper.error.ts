/** ZooKeeper's own result codes (the server's `KeeperException.Code`), by name. */
export const ZOOKEEPER_CODES = {
  SYSTEM_ERROR: -1,
  RUNTIME_INCONSISTENCY: -2,
  DATA_INCONSISTENCY: -3,
  CONNECTION_LOSS: -4,
  MARSHALLING_ERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATION_TIMEOUT: -7,
  BAD_ARGUMENTS: -8,
  NEW_CONFIG_NO_QUORUM: -13,
  RECONFIG_IN_PROGRESS: -14,
  API_ERROR: -100,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  INVALID_CALLBACK: -113,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
  SESSION_MOVED: -118,
  NOT_READ_ONLY: -119,
  EPHEMERAL_ON_LOCAL_SESSION: -120,
  NO_WATCHER: -121,
  REQUEST_TIMEOUT: -122,
  RECONFIG_DISABLED: -123,
  SESSION_CLOSED_REQUIRE_SASL_AUTH: -124,
  QUOTA_EXCEEDED: -125,
  THROTTLED_OP: -127,
} as const;

/**
 * Code names of a ZookeeperError: the server's codes plus two of ours:
 * - `UNAVAILABLE`: no live session to send the request on (ZooKeeper down, or the session was lost);
 * - `UNKNOWN`: a code neither we nor the client know.
 * `OPERATION_TIMEOUT` is also ours when a request got no answer within `operationTimeout`.
 */
export type ZookeeperErrorCode = keyof typeof ZOOKEEPER_CODES | 'UNAVAILABLE' | 'UNKNOWN';

const NAME_BY_NUMBER = new Map<number, keyof typeof ZOOKEEPER_CODES>(
  Object.entries(ZOOKEEPER_CODES).map(([name, n]) => [n, name as keyof typeof ZOOKEEPER_CODES]),
);

export function zookeeperCodeName(code: number): ZookeeperErrorCode {
  return NAME_BY_NUMBER.get(code) ?? 'UNKNOWN';
}

/** Codes after which a request's effect on the server is unknown: it may or may not have been applied. */
const OUTCOME_UNKNOWN: ReadonlySet<ZookeeperErrorCode> = new Set(['CONNECTION_LOSS', 'OPERATION_TIMEOUT']);
/** Codes that say "the service cannot be reached right now", as opposed to an answer about a node. */
const CONNECTIVITY: ReadonlySet<ZookeeperErrorCode> = new Set([
  'CONNECTION_LOSS',
  'OPERATION_TIMEOUT',
  'SESSION_EXPIRED',
  'SESSION_MOVED',
  'UNAVAILABLE',
  'AUTH_FAILED',
  'REQUEST_TIMEOUT',
  'THROTTLED_OP',
]);

/** The one error every ZookeeperService operation rejects with. */
export class ZookeeperError extends Error {
  override readonly name = 'ZookeeperError';

  constructor(
    readonly code: ZookeeperErrorCode,
    message: string,
    readonly path?: string,
    /** For a multi: the index of the operation that failed. */
    readonly opIndex?: number,
  ) {
    super(message);
  }

  /** The request may have been applied even though it failed (connection lost, or no answer in time). */
  get outcomeUnknown(): boolean {
    return OUTCOME_UNKNOWN.has(this.code);
  }

  /** ZooKeeper could not be reached (as opposed to an answer about a node). */
  get isConnectivity(): boolean {
    return CONNECTIVITY.has(this.code);
  }
}

export function isZookeeperError(error: unknown, code?: ZookeeperErrorCode): error is ZookeeperError {
  return error instanceof ZookeeperError && (code === undefined || error.code === code);
}
