import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { BehaviorSubject, Observable } from 'rxjs';
import { MODULE_OPTIONS_TOKEN } from '../module/zookeeper-lock.module-definition';
import type { ZookeeperLockModuleOptions } from '../module/zookeeper-lock-options.interface';
import { ResolvedZookeeperLockOptions, resolveOptions } from '../module/zookeeper-lock-options';
import { loadGuardedClient } from './zookeeper-client.guard';
import type { RawAcl, RawException, RawModule, RawStat, RawTransaction, Watcher } from './zookeeper-client.types';
import { CREATE_MODE, RAW_OP } from './zookeeper-client.types';
import { ZookeeperError, zookeeperCodeName } from './zookeeper.error';
import { SessionEvent, ZookeeperSession } from './zookeeper-session';
import { RawWatcherManager, WatchCallback, WatchKind, WatchRegistry, WatchRequest } from './watch-registry';

/**
 * - `connecting`: no session yet (start-up, or a new one after the last was lost).
 * - `connected`: a live session, connected.
 * - `suspended`: the session's connection dropped; the session (and its locks) may still be alive.
 * - `expired`: the server said the session expired; its ephemeral nodes (locks) are gone.
 * - `lost`: nothing heard from the server for a session timeout, or its connection kept dropping right
 *   after each handshake for a session timeout; the session is given up as gone.
 * - `unavailable`: no session could be established within a session timeout (nothing answered a
 *   handshake); requests fail at once with UNAVAILABLE, and every member keeps being tried.
 * - `auth-failed`: the server refused the credentials; no reconnection is attempted.
 * - `closed`: closed by the application (shutdown).
 */
export type ZookeeperState = 'connecting' | 'connected' | 'suspended' | 'expired' | 'lost' | 'unavailable' | 'auth-failed' | 'closed';

export interface ZookeeperStateEvent {
  state: ZookeeperState;
  /** The session the event is about (for `expired`/`lost`: the one that ended). */
  sessionId?: string;
}

/**
 * `container` (ZooKeeper 3.5+): a persistent node the server deletes once it has had children and has
 * none left (checked every `znode.container.checkIntervalMs`, 60 s by default).
 */
export type CreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential' | 'container';

export interface CreateResult {
  /** The path created (with the sequence suffix for sequential modes). */
  path: string;
  /** The session that created it (an ephemeral node lives exactly as long as that session). */
  sessionId: string;
}

export interface NodeStat {
  /** Creation zxid: grows with every change anywhere in the ensemble. */
  czxid: bigint;
  mzxid: bigint;
  version: number;
  cversion: number;
  numChildren: number;
  dataLength: number;
  /** Hex session id of the owner of an ephemeral node; undefined for a persistent one. */
  ephemeralOwner?: string;
}

export type MultiOp =
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateMode }
  | { op: 'remove'; path: string; version?: number }
  | { op: 'check'; path: string; version: number };

export type MultiResult = { op: 'create'; path: string } | { op: 'remove' } | { op: 'check' };

const MODE_FLAGS: Record<Exclude<CreateMode, 'container'>, number> = {
  persistent: CREATE_MODE.PERSISTENT,
  ephemeral: CREATE_MODE.EPHEMERAL,
  'persistent-sequential': CREATE_MODE.PERSISTENT_SEQUENTIAL,
  'ephemeral-sequential': CREATE_MODE.EPHEMERAL_SEQUENTIAL,
};

const PERMISSION_BITS = { read: 1, write: 2, create: 4, delete: 8, admin: 16, all: 31 } as const;
const CLOSE_GRACE_MS = 1_000;

type Sender<T> = (
  session: ZookeeperSession,
  done: (error: RawException | null, result?: T, failure?: ZookeeperError) => void,
) => void;

/** A watch set by exists/getData/getChildren: called once on the first change of the node or its children. */
export type { WatchCallback };

/**
 * One shared ZooKeeper session for the whole application, as promises with bounded time.
 *
 * node-zookeeper-client has no read timeout, no idea of a lost session, and a reconnect loop that never
 * ends; this service supplies all three. Every operation fails with a ZookeeperError within
 * `operationTimeout`, instead of hanging on a silent server or a queue that is never sent.
 */
@Injectable()
export class ZookeeperService implements OnModuleInit, OnApplicationShutdown {
  protected readonly logger = new Logger('ZookeeperLock');
  readonly options: ResolvedZookeeperLockOptions;
  private readonly zookeeper: RawModule = loadGuardedClient();
  private readonly acl: RawAcl[];
  private session?: ZookeeperSession;
  private readonly stateSubject = new BehaviorSubject<ZookeeperStateEvent>({ state: 'connecting' });
  private watchdog?: NodeJS.Timeout;
  private closing?: Promise<void>;
  /** Resolvers waiting for the next `connected` (or for giving up). */
  private connectionWaiters = new Set<() => void>();
  /**
   * Requests sent and not yet answered, with their deadlines. One sweeping interval times them all out,
   * instead of a timer per request (a measurable cost on the lock's fast path).
   */
  private readonly inFlight = new Set<{ deadline: number; expire: () => void }>();
  private sweeper?: NodeJS.Timeout;
  /** Watches per session: a new session (new client) starts with none, and the old one's go with it. */
  private readonly watchRegistries = new WeakMap<ZookeeperSession, WatchRegistry>();

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: ZookeeperLockModuleOptions) {
    this.options = resolveOptions(options);
    this.acl = this.buildAcl();
  }

  /** Connection state changes, starting with the current one. */
  get state$(): Observable<ZookeeperStateEvent> {
    return this.stateSubject.asObservable();
  }

  get state(): ZookeeperState {
    return this.stateSubject.value.state;
  }

  /** The live session's id (hex) while connected or suspended; undefined otherwise. */
  get sessionId(): string | undefined {
    const state = this.state;
    return state === 'connected' || state === 'suspended' ? this.session?.id : undefined;
  }

  /** The session timeout granted by the server (ms), or the one requested before the first session. */
  get sessionTimeout(): number {
    return this.session?.timeout ?? this.options.sessionTimeout;
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /**
   * Starts the session (idempotent) and waits up to `connectTimeout` for it. Never throws for an
   * unreachable server: the application starts, and operations fail with UNAVAILABLE until it is back.
   */
  async connect(): Promise<boolean> {
    if (this.closing) return false;
    if (!this.session) this.openSession();
    const connected = await this.waitForConnection(this.options.connectTimeout);
    if (connected) {
      this.logger.log(`Connected to ZooKeeper ${this.options.connectionString} (session 0x${this.session?.id})`);
    } else if (this.state !== 'auth-failed') {
      this.logger.error(
        `ZooKeeper ${this.options.connectionString} not reachable within ${this.options.connectTimeout} ms; ` +
          'starting anyway, locks fail as unavailable until it answers',
      );
    }
    return connected;
  }

  /** Closes the session so its ephemeral nodes vanish now, not after the session timeout. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.watchdog);
      const session = this.session;
      this.session = undefined;
      await session?.destroy(true, CLOSE_GRACE_MS);
      for (const request of this.inFlight) request.expire();
      clearInterval(this.sweeper);
      this.setState({ state: 'closed', sessionId: session?.id });
      this.wakeConnectionWaiters();
      this.stateSubject.complete();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- operations

  create(path: string, options: { data?: Buffer; mode?: CreateMode } = {}): Promise<CreateResult> {
    if (options.mode === 'container') {
      return this.execute<CreateResult>('create', path, (session, done) =>
        session.createContainer(path, options.data, this.acl, (e, created) =>
          done(e, e ? undefined : { path: created!.path, sessionId: session.id as string }),
        ),
      );
    }
    const mode = MODE_FLAGS[options.mode ?? 'persistent'];
    return this.execute<CreateResult>('create', path, (session, done) =>
      session.client.create(path, options.data, this.acl, mode, (e, created) =>
        done(e, e ? undefined : { path: created as string, sessionId: session.id as string }),
      ),
    );
  }

  /** Deletes a node; `version` -1 (default) matches any version. */
  remove(path: string, version = -1): Promise<void> {
    return this.execute<void>('remove', path, (session, done) => session.client.remove(path, version, done));
  }

  /**
   * Stat of a node, or null when it does not exist. A watch fires once on its creation, change or deletion
   * (or never, if the session ends first); cancel it with `unwatch(path, watch)`.
   */
  async exists(path: string, watch?: WatchCallback): Promise<NodeStat | null> {
    const stat = await this.watchedRead<RawStat | null>('exists', 'exists', path, watch, (session, raw, done) =>
      // exists sets a watch whether or not the node is there.
      session.client.exists(path, raw, (e, stat) => done(e, e ? undefined : (stat ?? null), !e)),
    );
    return stat ? toNodeStat(stat) : null;
  }

  /** Data and stat of a node. A watch fires once on its change or deletion; cancel it with `unwatch`. */
  getData(path: string, watch?: WatchCallback): Promise<{ data: Buffer; stat: NodeStat }> {
    return this.watchedRead('getData', 'data', path, watch, (session, raw, done) =>
      session.client.getData(path, raw, (e, data, stat) =>
        done(e, e ? undefined : { data: data ?? Buffer.alloc(0), stat: toNodeStat(stat as RawStat) }, !e),
      ),
    );
  }

  /** Names of a node's children. A watch fires once when they change or the node goes; see `unwatch`. */
  getChildren(path: string, watch?: WatchCallback): Promise<string[]> {
    return this.watchedRead('getChildren', 'child', path, watch, (session, raw, done) =>
      session.client.getChildren(path, raw, (e, children) => done(e, children, !e)),
    );
  }

  /**
   * Cancels a watch set by exists/getData/getChildren with this `callback` on `path` (every kind): it will
   * not be called. Once a path has no callback left, the client forgets it as well, so timed-out or aborted
   * waits leave nothing behind and a reconnect does not re-register it. Returns true when it was set.
   * Call it when a wait ends without the watch having fired; calling it after the watch fired is harmless.
   */
  unwatch(path: string, callback: WatchCallback): boolean {
    const session = this.session;
    return session ? this.watchesOf(session).remove(path, callback) : false;
  }

  /**
   * Several operations as one atomic MULTI request (one round trip): all apply or none. On failure the
   * ZookeeperError carries the code and `opIndex` of the operation that failed.
   */
  multi(ops: MultiOp[]): Promise<MultiResult[]> {
    return this.execute('multi', ops[0]?.path, (session, done) => {
      const transaction = ops.reduce<RawTransaction>((t, op) => {
        if (op.op === 'create') {
          if (op.mode === 'container') throw new Error('container nodes cannot be created inside a multi');
          return t.create(op.path, op.data, this.acl, MODE_FLAGS[op.mode ?? 'persistent']);
        }
        if (op.op === 'remove') return withVersion(t.remove(op.path, op.version ?? -1), op.version ?? -1);
        return withVersion(t.check(op.path, op.version), op.version);
      }, session.client.transaction());
      transaction.commit((error, results) => {
        const failedAt = results?.findIndex((r) => r.type === RAW_OP.ERROR && r.err !== 0) ?? -1;
        if (failedAt >= 0) {
          const code = results![failedAt].err as number;
          done(null, undefined, new ZookeeperError(zookeeperCodeName(code), `multi op ${failedAt} (${ops[failedAt].op} ${ops[failedAt].path}) failed: ${zookeeperCodeName(code)}`, ops[failedAt].path, failedAt));
          return;
        }
        if (error) return done(error);
        done(null, (results ?? []).map((r, i) => (ops[i].op === 'create' ? { op: 'create', path: r.path as string } : { op: ops[i].op })) as MultiResult[]);
      });
    });
  }

  /** Creates `path` and its missing parents as persistent nodes; an existing node counts as success. */
  async mkdirp(path: string): Promise<void> {
    let current = '';
    for (const part of path.split('/').filter(Boolean)) {
      current += `/${part}`;
      try {
        await this.create(current);
      } catch (error) {
        if (!(error instanceof ZookeeperError && error.code === 'NODE_EXISTS')) throw error;
      }
    }
  }

  /**
   * Resolves true once connected, false when `timeoutMs` passes first or the service closes. Use it to
   * wait out a brief disconnection.
   */
  waitForConnection(timeoutMs: number): Promise<boolean> {
    if (this.state === 'connected') return Promise.resolve(true);
    if (this.closing || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.connectionWaiters.delete(wake);
        resolve(this.state === 'connected');
      };
      const timer = setTimeout(wake, timeoutMs);
      this.connectionWaiters.add(wake);
    });
  }

  // ---------------------------------------------------------------- machinery

  /**
   * Sends one request on the live session with a bounded time. With no session at all, fails at once
   * (UNAVAILABLE); while the session is only suspended, waits up to `operationTimeout` for it to return.
   * Requests are never handed to the client while it is disconnected, because the client would queue
   * them and send them much later, or never.
   */
  private execute<T>(name: string, path: string | undefined, send: Sender<T>): Promise<T> {
    if (this.state === 'connected') return this.dispatch(name, path, send, Date.now());
    if (this.state !== 'suspended') return Promise.reject(this.unavailable(name, path));
    const started = Date.now();
    return this.waitForConnection(this.options.operationTimeout).then((connected) => {
      if (!connected) throw this.unavailable(name, path);
      return this.dispatch(name, path, send, started);
    });
  }

  private dispatch<T>(name: string, path: string | undefined, send: Sender<T>, started: number): Promise<T> {
    const session = this.session as ZookeeperSession;
    return new Promise<T>((resolve, reject) => {
      const request = {
        deadline: started + this.options.operationTimeout,
        expire: () =>
          settle(null, undefined, new ZookeeperError('OPERATION_TIMEOUT', `ZooKeeper did not answer ${name}${path ? ` ${path}` : ''} within ${this.options.operationTimeout} ms`, path)),
      };
      const settle = (error: RawException | null, result?: T, failure?: ZookeeperError) => {
        if (!this.inFlight.delete(request)) return; // already timed out: a late answer is ignored
        if (failure) reject(failure);
        else if (error) reject(toZookeeperError(error, name, path));
        else resolve(result as T);
      };
      this.inFlight.add(request);
      this.startSweeper();
      try {
        send(session, settle);
      } catch (error) {
        // The client validates paths and sizes by throwing synchronously.
        settle(null, undefined, new ZookeeperError('BAD_ARGUMENTS', `${name} ${path ?? ''}: ${(error as Error).message}`, path));
      }
    });
  }

  /**
   * A read that may set a watch. Every callback goes through the session's WatchRegistry, so the client sees
   * one watcher per (path, kind) whatever the number of waiters, and a throwing callback is only logged.
   */
  private watchedRead<T>(
    name: string,
    kind: WatchKind,
    path: string,
    watch: WatchCallback | undefined,
    send: (session: ZookeeperSession, raw: Watcher | undefined, done: (e: RawException | null, result: T | undefined, watchSet: boolean) => void) => void,
  ): Promise<T> {
    let request: WatchRequest | undefined;
    const result = this.execute<T>(name, path, (session, done) => {
      request = watch && this.watchesOf(session).begin(kind, path, watch);
      const ticket = request;
      send(session, ticket?.raw, (e, value, watchSet) => {
        ticket?.answered(watchSet);
        done(e, value);
      });
    });
    if (!watch) return result;
    // The caller hears "failed" (timeout, bad path, no session): a watch it was never promised must not fire.
    return result.catch((error) => {
      request?.abandon();
      throw error;
    });
  }

  private watchesOf(session: ZookeeperSession): WatchRegistry {
    let registry = this.watchRegistries.get(session);
    if (!registry) {
      const manager = () => (session.client.connectionManager as unknown as { watcherManager?: RawWatcherManager }).watcherManager;
      registry = new WatchRegistry(manager, (error, path) =>
        this.logger.error(`A watch callback on ${path} threw: ${(error as Error)?.message ?? String(error)}`),
      );
      this.watchRegistries.set(session, registry);
    }
    return registry;
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(5, Math.min(100, Math.floor(this.options.operationTimeout / 10)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const request of this.inFlight) if (request.deadline <= now) request.expire();
      if (this.inFlight.size === 0 && this.closing) clearInterval(this.sweeper);
    }, every);
    this.sweeper.unref();
  }

  private unavailable(name: string, path: string | undefined): ZookeeperError {
    const why = this.state === 'auth-failed' ? 'authentication failed' : `no live session (state: ${this.state})`;
    return new ZookeeperError('UNAVAILABLE', `ZooKeeper unavailable for ${name}${path ? ` ${path}` : ''}: ${why}`, path);
  }

  private openSession(): void {
    const session = new ZookeeperSession(
      this.zookeeper,
      {
        connectionString: this.options.connectionString,
        sessionTimeout: this.options.sessionTimeout,
        retryDelay: this.options.retryDelay,
        auth: this.options.auth,
      },
      (s, event) => this.onSessionEvent(s, event),
    );
    this.session = session;
    session.start();
    this.startWatchdog();
  }

  private onSessionEvent(session: ZookeeperSession, event: SessionEvent): void {
    if (session !== this.session) return;
    switch (event) {
      case 'connected':
        this.setState({ state: 'connected', sessionId: session.id });
        this.wakeConnectionWaiters();
        break;
      case 'disconnected':
        this.logger.warn(`ZooKeeper connection lost; session 0x${session.id} suspended, reconnecting`);
        this.setState({ state: 'suspended', sessionId: session.id });
        break;
      case 'expired':
        this.logger.error(`ZooKeeper session 0x${session.id} expired: its locks are gone; opening a new session`);
        this.replaceSession(session, 'expired');
        break;
      case 'lost':
        this.replaceSession(session, 'lost');
        break;
      case 'unavailable':
        if (this.state !== 'connecting') break;
        this.logger.error(`ZooKeeper ${this.options.connectionString}: no member answered a handshake within ${session.timeout} ms; still trying`);
        this.setState({ state: 'unavailable' });
        this.wakeConnectionWaiters();
        break;
      case 'auth-failed':
        this.logger.error(`ZooKeeper refused the credentials given in \`auth\`; not reconnecting`);
        clearInterval(this.watchdog);
        void session.destroy(false, 0);
        this.setState({ state: 'auth-failed', sessionId: session.id });
        this.wakeConnectionWaiters();
        break;
    }
  }

  /** The session is over (expired, or given up as lost): say so, then start a fresh one. */
  private replaceSession(session: ZookeeperSession, state: 'expired' | 'lost'): void {
    if (this.closing || session !== this.session) return;
    this.session = undefined;
    void session.destroy(state === 'lost', 0);
    this.setState({ state, sessionId: session.id });
    this.setState({ state: 'connecting' });
    this.wakeConnectionWaiters();
    this.openSession();
  }

  /**
   * The client never notices a silent server (no read timeout). We watch the time since the server last
   * spoke (it answers the client's pings every third of the session timeout):
   * - connected but silent for 2/3 of the session timeout: drop the connection, so the client reconnects
   *   (to another server if there is one), as ZooKeeper's own clients do;
   * - suspended and silent for the whole session timeout: the server has expired the session by now, or
   *   is about to; give it up as lost before another process can take our locks over.
   */
  private startWatchdog(): void {
    clearInterval(this.watchdog);
    const tick = () => {
      const session = this.session;
      if (!session) return;
      const now = Date.now();
      const interval = watchdogInterval(session.timeout);
      if (!session.connected) {
        // A connection attempt that got no handshake answer: drop it so the client tries again.
        const attemptLimit = this.options.retryDelay + Math.max(1_000, Math.floor(session.timeout / 3));
        if (session.attemptStartedAt > 0 && now - session.attemptStartedAt > attemptLimit) session.dropConnection();
      }
      if (!session.id) return; // no session yet: nothing to lose
      const silentFor = now - session.lastHeardAt;
      if (session.connected && silentFor > (session.timeout * 2) / 3) {
        this.logger.warn(`ZooKeeper silent for ${silentFor} ms; dropping the connection to reconnect`);
        session.dropConnection();
      } else if (!session.connected && silentFor >= session.timeout - interval) {
        this.logger.error(
          `ZooKeeper unreachable for ${silentFor} ms (session timeout ${session.timeout} ms): ` +
            `session 0x${session.id} and its locks are lost; opening a new session`,
        );
        this.replaceSession(session, 'lost');
      }
    };
    this.watchdog = setInterval(tick, watchdogInterval(this.options.sessionTimeout));
    this.watchdog.unref();
  }

  private setState(event: ZookeeperStateEvent): void {
    if (this.stateSubject.closed) return;
    this.stateSubject.next(event);
  }

  private wakeConnectionWaiters(): void {
    for (const wake of [...this.connectionWaiters]) wake();
  }

  private buildAcl(): RawAcl[] {
    const { ACL, Id } = this.zookeeper;
    const acl = this.options.acl;
    if (acl === 'open') return [new ACL(PERMISSION_BITS.all, new Id('world', 'anyone'))];
    if (acl === 'creator') return [new ACL(PERMISSION_BITS.all, new Id('auth', ''))];
    return acl.map(
      (entry) =>
        new ACL(
          entry.permissions.reduce((bits, p) => bits | PERMISSION_BITS[p], 0),
          new Id(entry.scheme, entry.id),
        ),
    );
  }
}

/**
 * node-zookeeper-client's Transaction stores `version || -1`, so version 0 became "any version" (its bug
 * #67). Put the version we were given back on the op it just added.
 */
function withVersion(transaction: RawTransaction, version: number): RawTransaction {
  transaction.ops[transaction.ops.length - 1].version = version;
  return transaction;
}

function watchdogInterval(sessionTimeout: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(sessionTimeout / 10)));
}

function toZookeeperError(error: RawException, operation: string, path?: string): ZookeeperError {
  const code = zookeeperCodeName(error.unknownCode ?? error.getCode());
  return new ZookeeperError(code, `ZooKeeper ${operation}${path ? ` ${path}` : ''} failed: ${code}`, path);
}

function toNodeStat(stat: RawStat): NodeStat {
  const owner = stat.ephemeralOwner.readBigUInt64BE(0);
  return {
    czxid: stat.czxid.readBigInt64BE(0),
    mzxid: stat.mzxid.readBigInt64BE(0),
    version: stat.version,
    cversion: stat.cversion,
    numChildren: stat.numChildren,
    dataLength: stat.dataLength,
    ephemeralOwner: owner === 0n ? undefined : stat.ephemeralOwner.toString('hex'),
  };
}
