import type { LockErrorFactory } from '../interceptor/with-lock-options.interface';
import type { LockEventListener } from '../lock/lock-events';
import type { LockIdNormalizer } from '../lock/lock-id';

/** One ACL entry for the nodes the library creates. */
export interface ZookeeperAclEntry {
  /** `world`, `auth`, `digest`, `ip`, ... */
  scheme: string;
  /** `anyone` for world, `user:base64(sha1(user:password))` for digest, a CIDR for ip, `` for auth. */
  id: string;
  /** Any of read, write, create, delete, admin; or `all`. */
  permissions: Array<'read' | 'write' | 'create' | 'delete' | 'admin' | 'all'>;
}

/**
 * TLS to ZooKeeper's `secureClientPort` (ZooKeeper 3.5+). PEM contents (strings or Buffers), not file
 * paths: read the files yourself (`fs.readFileSync`). The server's certificate is always verified.
 */
export interface ZookeeperTlsOptions {
  /** CA certificate(s) that signed the servers' certificates. Default: Node's bundled public root CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM, optionally followed by its chain), for servers with `ssl.clientAuth=need`. Needs `key`. */
  cert?: string | Buffer;
  /** Private key of `cert` (PEM). Needs `cert`. */
  key?: string | Buffer;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /**
   * Host name the servers' certificates must carry, also sent as SNI. Default: the host of each member
   * as written in the connection string; for an IP address, the certificate must list that IP.
   */
  servername?: string;
}

export interface ZookeeperLockModuleOptions {
  /**
   * `host:port[,host:port...][/chroot]`. A chroot must already exist on the server.
   * Example: `zk1:2181,zk2:2181,zk3:2181/my-app`.
   */
  connectionString: string;
  /** Root path of every lock node. Default `/locks`. Created (persistent) on first use. */
  namespace?: string;
  /**
   * Session timeout in ms that we ask the server for (it may clamp it to its min/max). A held lock
   * survives a disconnection shorter than this and is reported lost after it. Default 15000.
   */
  sessionTimeout?: number;
  /** How long application start-up waits for the first session, in ms. Default 5000. */
  connectTimeout?: number;
  /**
   * Upper bound in ms for one ZooKeeper request, and for waiting for a briefly disconnected session to
   * come back before failing. Default 5000.
   */
  operationTimeout?: number;
  /**
   * Connect over TLS (ZooKeeper's `secureClientPort`). Without it, connections are plain TCP: the digest
   * password of `auth`, lock ids and everything else cross the network in clear. Default: plain.
   */
  tls?: ZookeeperTlsOptions;
  /** Digest credentials `user:password` (or several) added to every (re)connected session. */
  auth?: string | string[];
  /**
   * ACL of the nodes the library creates. `open` (default): anyone may read and write them.
   * `creator`: only sessions authenticated as the creator (requires `auth`). Or explicit entries.
   */
  acl?: 'open' | 'creator' | ZookeeperAclEntry[];
  /** Upper bound in ms of the random pause between reconnection rounds over all servers. Default 1000. */
  retryDelay?: number;
  /**
   * Called with every lock event (acquired, conflict, released, lost, unavailable) and every session
   * state change, for metrics and tracing of your own (OpenTelemetry is built in: see the README's
   * Telemetry section). Synchronous and on the lock's path: keep it cheap. Exceptions it throws are logged
   * and ignored.
   */
  onLockEvent?: LockEventListener;
  /**
   * Grace period in ms at application shutdown. Once `app.close()` begins, new and waiting acquires fail
   * with LockUnavailableError (503); locks already held are left to finish and release as usual for up to
   * this long; whatever is still held after it is aborted as lost. Default 10000.
   */
  shutdownTimeout?: number;
  /**
   * Maps every lock id before it names a lock, for stores that compare ids more loosely than exact
   * strings: `(id) => id.normalize('NFC').toLowerCase()` makes `ACCT-1`/`acct-1` and NFC/NFD `café` one lock
   * each. Must be deterministic and the same on every instance, or two instances lock different names for
   * one row. Per call, `LockOptions.normalizeId` (and the decorators' option) overrides it. Default none.
   */
  normalizeId?: LockIdNormalizer;
  /**
   * Longest time in ms any lock may be held, unless a call or decorator says otherwise. When it passes,
   * the handle's signal aborts with LockHoldExpiredError and the lock is released: a handler that hangs,
   * a slow client body or a stream a client keeps open cannot keep an id locked for longer. Default
   * Infinity (no limit); set it whenever clients choose the ids.
   */
  maxHold?: number;
  /**
   * Bounds on waiting acquires (`wait` > 0). `perId`: most callers waiting for one id, counted in this
   * process and in the id's queue in ZooKeeper (all instances); default 100. `perProcess`: most waiting
   * acquires of this process for any ids; default 5000. Beyond them an acquire is refused at once with
   * LockQueueFullError (a LockConflictError: 409). Infinity lifts a bound.
   */
  maxWaiters?: { perId?: number; perProcess?: number };
  /**
   * Names lock nodes by a keyed hash of the id (HMAC-SHA256 with `secret`, at least 16 bytes) instead of
   * the id itself, so that nobody who can reach ZooKeeper learns which ids are locked (ZooKeeper checks no
   * ACL on `exists`, and `dump` lists every path). Every instance sharing a namespace must use the same
   * secret; changing it moves every lock to new names, so change it only with all instances stopped.
   * Default: plain names (readable in zkCli).
   */
  hashIds?: { secret: string | Buffer };
  /**
   * Who this process is, as written into every node it creates (with the acquisition time) and reported
   * by `LockService.inspect`/`list`: 1 to 128 printable characters. Default `<hostname>/<pid>`. Readable
   * by anyone who may read the nodes (and, unlike the ids, not hidden by `hashIds`): do not put secrets in it.
   */
  ownerName?: string;
  /**
   * Also emit a Node process warning (code `NZL_LOCK_LOST`, see LOCK_LOST_WARNING) when `withLock`'s or
   * `@Locked`'s function finishes after its lock was lost, for processes that watch `process.on('warning')`.
   * Off by default: the loss is already logged (a `warn` line when it happens), aborts the handle's
   * `signal`, and is reported as a `lost` event and metric. Default false.
   */
  lockLostWarning?: boolean;
  /**
   * Builds the exception @WithLock throws when a route cannot lock (held elsewhere, ZooKeeper unavailable,
   * an invalid id, a lost lock): `(error, context) => exception`, for every route, in every transport.
   * Return `undefined` to keep the default answer for that error. Default: generic answers (409, 503, 400)
   * that never show ZooKeeper paths, the namespace or internal messages (see the README).
   */
  errorFactory?: LockErrorFactory;
  /**
   * Puts the lock ids in @WithLock's default answers (`ids` in the 409 and 503 bodies, the RPC/WebSocket
   * error data and the GraphQL error's extensions). Default false: ids are the application's data (an
   * account number, an e-mail), and a client that did not send them must not learn them.
   */
  exposeLockIds?: boolean;
}

/**
 * For `ZookeeperLockModule.forRootAsync({ useClass })` (or `useExisting`): a provider that builds the
 * options, e.g. from a ConfigService it injects.
 *
 * ```ts
 * @Injectable()
 * class LockConfig implements ZookeeperLockOptionsFactory {
 *   constructor(private readonly config: ConfigService) {}
 *   createZookeeperLockOptions(): ZookeeperLockModuleOptions {
 *     return { connectionString: this.config.getOrThrow('ZOOKEEPER_CONNECT') };
 *   }
 * }
 * ```
 */
export interface ZookeeperLockOptionsFactory {
  createZookeeperLockOptions(): ZookeeperLockModuleOptions | Promise<ZookeeperLockModuleOptions>;
}
