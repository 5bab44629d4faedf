import type { LockEventListener } from '../lock/lock-events';
import type { LockIdNormalizer } from '../lock/lock-id';
import { maxHoldProblem } from '../lock/hold-limit';
import { maxWaitersProblem, WaiterLimits, waiterLimits } from '../lock/waiting-room';
import { MIN_SECRET_BYTES } from '../recipes/hashed-names';
import { defaultOwnerName, ownerNameProblem } from '../recipes/node-data';
import { hostname } from 'node:os';
import type { ResolvedTlsOptions } from '../zookeeper/socket-dialer';
import type { ZookeeperAclEntry, ZookeeperLockModuleOptions } from './zookeeper-lock-options.interface';
import { resolveTlsOptions } from './tls-options';
import { MAX_TIMER_MS } from '../zookeeper/settle-within';

export type ResolvedZookeeperLockOptions = Required<
  Omit<ZookeeperLockModuleOptions, 'auth' | 'onLockEvent' | 'normalizeId' | 'hashIds' | 'tls' | 'errorFactory' | 'exposeLockIds'>
> & {
  /** Read by WithLockInterceptor from the options as given; checked here so that a wrong one stops start-up. */
  errorFactory?: ZookeeperLockModuleOptions['errorFactory'];
  exposeLockIds?: boolean;
  hashIds?: { secret: string | Buffer };
  auth: string[];
  /** Undefined: plain TCP. */
  tls?: ResolvedTlsOptions;
  onLockEvent?: LockEventListener;
  normalizeId?: LockIdNormalizer;
};

export const DEFAULT_OPTIONS = {
  namespace: '/locks',
  sessionTimeout: 15_000,
  connectTimeout: 5_000,
  operationTimeout: 5_000,
  acl: 'open',
  retryDelay: 1_000,
  shutdownTimeout: 10_000,
  maxHold: Infinity,
  lockLostWarning: false,
} as const;

/** Longest delay Node's timers take (2^31-1 ms); anything above fires after 1 ms. */
export const MAX_TIMER_DELAY = MAX_TIMER_MS;

const PERMISSIONS = new Set(['read', 'write', 'create', 'delete', 'admin', 'all']);
// `host` or `[ipv6]`, then an optional `:port`.
const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/;

/** Thrown at start-up for options that cannot work; the message names the option. */
export class InvalidZookeeperLockOptionsError extends Error {
  override readonly name = 'InvalidZookeeperLockOptionsError';
}

function fail(option: string, problem: string): never {
  throw new InvalidZookeeperLockOptionsError(`ZookeeperLockModule: option \`${option}\` ${problem}`);
}

/** A duration in ms: an integer from `min` to the longest delay a Node timer can wait (else it fires after 1 ms). */
function positiveInteger(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(name, `must be an integer of at least ${min} (ms), got ${JSON.stringify(value)}`);
  }
  if (value > MAX_TIMER_DELAY) fail(name, `must be at most ${MAX_TIMER_DELAY} (ms), got ${value}`);
  return value;
}

/** `shutdownTimeout`: ms >= 0 that a timer can wait for. Shared with LockService (the testing module has no resolveOptions). */
export function validShutdownTimeout(value: unknown): number {
  return positiveInteger('shutdownTimeout', value, DEFAULT_OPTIONS.shutdownTimeout, 0);
}

function validMaxHold(value: unknown): number {
  if (value === undefined) return DEFAULT_OPTIONS.maxHold;
  const problem = maxHoldProblem(value);
  if (problem) fail('maxHold', problem);
  return value as number;
}

function validMaxWaiters(value: unknown): WaiterLimits {
  if (value === undefined) return waiterLimits(undefined);
  const problem = maxWaitersProblem(value);
  if (problem) fail('maxWaiters', problem);
  return waiterLimits(value as Partial<WaiterLimits>);
}

/** `ownerName`, checked; the default is computed once per process. */
export function validOwnerName(value: unknown): string {
  if (value === undefined) return defaultOwnerName(hostname(), process.pid);
  const problem = ownerNameProblem(value);
  if (problem) fail('ownerName', problem);
  return value as string;
}

/** Never echoes the secret: only its type and length. */
function validHashIds(value: unknown): { secret: string | Buffer } {
  const secret = (value as { secret?: unknown } | null)?.secret;
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) fail('hashIds', 'must be { secret: string | Buffer }');
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : secret.length;
  if (bytes < MIN_SECRET_BYTES) fail('hashIds', `secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes}`);
  return { secret };
}

function validPath(name: string, value: string): void {
  if (!value.startsWith('/') || (value.length > 1 && value.endsWith('/')) || value.includes('//')) {
    fail(name, `must be an absolute ZooKeeper path like /locks, got ${JSON.stringify(value)}`);
  }
  for (const part of value.split('/').slice(1)) {
    if (part === '.' || part === '..') fail(name, `must not contain . or .. segments, got ${JSON.stringify(value)}`);
  }
  // Characters ZooKeeper refuses in paths (PathUtils.validatePath).
  if (/[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/.test(value)) {
    fail(name, `contains characters ZooKeeper does not allow in a path: ${JSON.stringify(value)}`);
  }
}

/**
 * Start-up errors end up in logs and crash reports, so they never repeat a secret: `user:pw@host` (a
 * URL habit ZooKeeper does not support) loses everything before the `@`.
 */
function redactCredentials(entry: string): string {
  const at = entry.lastIndexOf('@');
  return at >= 0 ? `<redacted>@${entry.slice(at + 1)}` : entry;
}

/** A digest ACL id is `user:base64(sha1(user:password))`; the hash is as good as a password offline. */
function redactAclEntry(entry: unknown): unknown {
  if (!entry || typeof entry !== 'object') return entry;
  const { id } = entry as { id?: unknown };
  if (typeof id !== 'string' || !id.includes(':')) return entry;
  return { ...entry, id: `${id.slice(0, id.indexOf(':'))}:<redacted>` };
}

/** One server of a connection string; `host` without the brackets of an IPv6 literal. */
export interface ZookeeperServerAddress {
  host: string;
  port: number;
}

/**
 * Splits `host:port[,host:port...][/chroot]` the way it is meant, which node-zookeeper-client's own parser
 * does not: it keeps the spaces around commas in host names (` host2` fails name resolution) and cuts
 * `[::1]:2181` at the first colon (host `[`). Bracketed IPv6 literals are supported, as in ZooKeeper's
 * Java client. Throws InvalidZookeeperLockOptionsError naming the bad part.
 */
export function parseConnectionString(value: unknown): { servers: ZookeeperServerAddress[]; chroot: string; normalized: string } {
  if (typeof value !== 'string' || value.trim() === '') {
    fail('connectionString', 'is required: a `host:port` list such as `localhost:2181`, optionally with a /chroot');
  }
  const trimmed = value.trim();
  if (trimmed.includes('@')) {
    fail('connectionString', `must not carry credentials (\`${redactCredentials(trimmed)}\`); pass them in the \`auth\` option`);
  }
  const slash = trimmed.indexOf('/');
  const hosts = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  const chroot = slash >= 0 && slash < trimmed.length - 1 ? trimmed.slice(slash) : '';
  const servers = hosts.split(',').map((entry) => {
    const match = HOST_PORT.exec(entry.trim());
    const port = match?.[3] ? Number(match[3]) : 2181;
    if (!match || port < 1 || port > 65535) {
      fail('connectionString', `has an invalid server \`${entry}\`; expected host:port, e.g. localhost:2181 or [::1]:2181`);
    }
    return { host: match[1] ?? match[2], port };
  });
  if (chroot) validPath('connectionString (chroot)', chroot);
  const normalized = servers.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',') + chroot;
  return { servers, chroot, normalized };
}

function validConnectionString(value: unknown): string {
  return parseConnectionString(value).normalized;
}

function validBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(name, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function validListener(value: unknown): LockEventListener | undefined {
  if (value !== undefined && typeof value !== 'function') fail('onLockEvent', 'must be a function (event) => void');
  return value as LockEventListener | undefined;
}

function validErrorFactory(value: unknown): ZookeeperLockModuleOptions['errorFactory'] {
  if (typeof value !== 'function') fail('errorFactory', 'must be a function (error, context) => exception');
  return value as ZookeeperLockModuleOptions['errorFactory'];
}

function validExposeLockIds(value: unknown): boolean {
  if (typeof value !== 'boolean') fail('exposeLockIds', `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function validNormalizer(value: unknown): LockIdNormalizer {
  if (typeof value !== 'function') fail('normalizeId', 'must be a function (id, scope) => string');
  return value as LockIdNormalizer;
}

function validAuth(value: unknown): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const entry of list) {
    if (typeof entry !== 'string' || !/^[^:]+:.*$/.test(entry)) {
      fail('auth', 'must be digest credentials `user:password` (or an array of them)');
    }
  }
  return list as string[];
}

function validAcl(value: unknown, auth: string[]): ResolvedZookeeperLockOptions['acl'] {
  if (value === undefined) return DEFAULT_OPTIONS.acl;
  if (value === 'open') return value;
  if (value === 'creator') {
    if (auth.length === 0) fail('acl', '`creator` needs `auth` credentials, or nobody could delete the lock nodes');
    return value;
  }
  if (!Array.isArray(value) || value.length === 0) {
    fail('acl', "must be 'open', 'creator' or a non-empty array of { scheme, id, permissions }");
  }
  for (const entry of value as ZookeeperAclEntry[]) {
    const ok =
      entry &&
      typeof entry.scheme === 'string' &&
      entry.scheme !== '' &&
      typeof entry.id === 'string' &&
      Array.isArray(entry.permissions) &&
      entry.permissions.length > 0 &&
      entry.permissions.every((p) => PERMISSIONS.has(p));
    if (!ok) {
      fail('acl', `has an invalid entry ${JSON.stringify(redactAclEntry(entry))}; permissions are read, write, create, delete, admin, all`);
    }
  }
  return value as ZookeeperAclEntry[];
}

/** Checks every option and fills in defaults. Throws InvalidZookeeperLockOptionsError naming the option. */
export function resolveOptions(options: ZookeeperLockModuleOptions | undefined): ResolvedZookeeperLockOptions {
  if (!options || typeof options !== 'object') fail('options', 'must be an object with at least connectionString');
  const connectionString = validConnectionString(options.connectionString);
  const namespace = options.namespace ?? DEFAULT_OPTIONS.namespace;
  if (typeof namespace !== 'string' || namespace === '/') fail('namespace', 'must be a path below the root, like /locks');
  validPath('namespace', namespace);
  const sessionTimeout = positiveInteger('sessionTimeout', options.sessionTimeout, DEFAULT_OPTIONS.sessionTimeout, 1000);
  const operationTimeout = positiveInteger(
    'operationTimeout',
    options.operationTimeout,
    Math.min(DEFAULT_OPTIONS.operationTimeout, sessionTimeout),
    10,
  );
  const auth = validAuth(options.auth);
  return {
    connectionString,
    namespace,
    sessionTimeout,
    connectTimeout: positiveInteger('connectTimeout', options.connectTimeout, DEFAULT_OPTIONS.connectTimeout, 0),
    operationTimeout,
    auth,
    acl: validAcl(options.acl, auth),
    retryDelay: positiveInteger('retryDelay', options.retryDelay, DEFAULT_OPTIONS.retryDelay, 0),
    onLockEvent: validListener(options.onLockEvent),
    shutdownTimeout: validShutdownTimeout(options.shutdownTimeout),
    maxHold: validMaxHold(options.maxHold),
    maxWaiters: validMaxWaiters(options.maxWaiters),
    ownerName: validOwnerName(options.ownerName),
    lockLostWarning: validBoolean('lockLostWarning', options.lockLostWarning, DEFAULT_OPTIONS.lockLostWarning),
    ...(options.hashIds !== undefined && { hashIds: validHashIds(options.hashIds) }),
    ...(options.normalizeId !== undefined && { normalizeId: validNormalizer(options.normalizeId) }),
    ...(options.tls !== undefined && { tls: resolveTlsOptions(fail, options.tls) }),
    ...(options.errorFactory !== undefined && { errorFactory: validErrorFactory(options.errorFactory) }),
    ...(options.exposeLockIds !== undefined && { exposeLockIds: validExposeLockIds(options.exposeLockIds) }),
  };
}
