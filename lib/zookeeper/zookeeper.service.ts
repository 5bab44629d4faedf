import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { inspect } from 'node:util';
import { BehaviorSubject, Observable } from 'rxjs';
import { MODULE_OPTIONS_TOKEN } from '../module/zookeeper-lock.module-definition';
import type { ZookeeperLockModuleOptions } from '../module/zookeeper-lock-options.interface';
import { ResolvedZookeeperLockOptions, ZookeeperServerAddress, parseConnectionString, resolveOptions } from '../module/zookeeper-lock-options';
import { keepSecrets, secretsOf } from './connection-secrets';
import { loadGuardedClient } from './zookeeper-client.guard';
import type { RawAcl, RawException, RawModule, RawStat, Watcher } from './zookeeper-client.types';
import { CREATE_MODE, RAW_OP } from './zookeeper-client.types';
import { CONTAINER_FLAGS, RawMultiOp } from './multi-request';
import { ZookeeperError, zookeeperCodeName } from './zookeeper.error';
import { SessionEvent, ZookeeperSession } from './zookeeper-session';
import { MAX_REQUEST_BYTES, RequestTooLargeError, SizedRequest, requestBytes } from './request-size';
import { confirmsSession, LOCAL_CLIENT_CODES, SessionLiveness, watchdogPlan, watchdogVerdict } from './session-watchdog';
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
  /** When the node was created, in ms since the epoch by the clock of the server that created it. */
  ctime: number;
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
  | { op: 'check'; path: string; version: number }
  | { op: 'setData'; path: string; data: Buffer; version?: number };

/** One ACL entry as the server stores it (`auth` entries come back as the creator's `digest` ids). */
export interface AclEntry {
  scheme: string;
  id: string;
  /** ZooKeeper permission bits: read 1, write 2, create 4, delete 8, admin 16. */
  permissions: number;
}

export type MultiResult = { op: 'create'; path: string } | { op: 'remove' } | { op: 'check' } | { op: 'setData' };

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
  /** The options in effect, defaults filled in; passwords, keys and secrets redacted (`user:<redacted>`). */
  readonly options: Readonly<ResolvedZookeeperLockOptions>;
  private readonly zookeeper: RawModule = loadGuardedClient();
  private readonly acl: RawAcl[];
  private session?: ZookeeperSession;
  private readonly stateSubject = new BehaviorSubject<ZookeeperStateEvent>({ state: 'connecting' });
  private watchdog?: NodeJS.Timeout;
  private watchdogPeriod = 0;
  private lastGrantedTimeout?: number;
  /** Connections made so far (answered handshakes, every session): see connectionEpoch. */
  private connections = 0;
  /** Sessions in a row that ended before they ever connected (a member answering every handshake as expired). */
  private stillborn = 0;
  /** The pause before the next session after a stillborn one (see replaceSession). */
  private reopenTimer?: NodeJS.Timeout;
  /** Per session: the send time of the latest request the server answered (what the watchdog decides on). */
  private readonly liveness = new WeakMap<ZookeeperSession, SessionLiveness>();
  private closing?: Promise<void>;
  /** Resolvers waiting for the next `connected` (or for giving up). */
  private connectionWaiters = new Set<() => void>();
  /**
   * Requests sent and not yet answered, with their deadlines. One sweeping interval times them all out,
   * instead of a timer per request (a measurable cost on the lock's fast path).
   */
  private readonly inFlight = new Set<{ deadline: number; expire: () => void }>();
  private sweeper?: NodeJS.Timeout;
  /** True while an operation hands its request to the client (see guardRequestSize). */
  private measuring = false;
  /** Watches per session: a new session (new client) starts with none, and the old one's go with it. */
  private readonly watchRegistries = new WeakMap<ZookeeperSession, WatchRegistry>();
  private readonly problems = new Map<string, string>();

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: ZookeeperLockModuleOptions) {
    this.options = keepSecrets(this, resolveOptions(options));
    this.acl = this.buildAcl();
  }

  /** What a serialized service shows: its state and the redacted options, never a credential or a socket. */
  toJSON(): { state: ZookeeperState; sessionId?: string; options: Readonly<ResolvedZookeeperLockOptions> } {
    return { state: this.state, sessionId: this.sessionId, options: this.options };
  }

  /** util.inspect / console.log show the same as toJSON: the session's client holds the credentials in clear. */
  [inspect.custom](depth: number, inspectOptions: object): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), { ...inspectOptions, depth: depth < 0 ? null : depth })}`;
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

  /**
   * Which connection is live: a number that changes with every (re)connect, of any session. Replies and
   * watch notifications of one connection come in the server's order; after a reconnect the client
   * re-registers its watches, and a notification for what changed while it was away may come after
   * replies to requests sent meanwhile. So "this watch has not fired" vouches for a node only while the
   * connection its read was answered on is still this one.
   */
  get connectionEpoch(): number {
    return this.connections;
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
    if (!this.session) {
      clearTimeout(this.reopenTimer); // (a pause after a stillborn session: connect() asks now)
      this.reopenTimer = undefined;
      this.openSession();
    }
    const connected = await this.waitForConnection(this.options.connectTimeout);
    if (connected) {
      this.logger.log(`Connected to ZooKeeper ${this.options.connectionString} (session 0x${this.session?.id})`);
      await this.checkChroot();
    } else if (this.state !== 'auth-failed') {
      this.logger.error(
        `ZooKeeper ${this.options.connectionString} not reachable within ${this.options.connectTimeout} ms; ` +
          'starting anyway, locks fail as unavailable until it answers' +
          (this.session?.lastTlsFailure ? ` (last failure: ${this.session.lastTlsFailure})` : ''),
      );
    }
    return connected;
  }

  /**
   * The chroot of the connection string (`/app` in `zk1:2181,zk2:2181/app`), or '' for none. ZooKeeper does
   * not create it: until it exists, every path below it fails with NO_NODE.
   */
  get chroot(): string {
    return parseConnectionString(this.options.connectionString).chroot;
  }

  /** A missing chroot lets the session connect while every lock fails: say so loudly, and how to fix it. */
  private async checkChroot(): Promise<void> {
    const chroot = this.chroot;
    if (!chroot) return;
    const stat = await this.exists('/').catch(() => undefined); // no answer: nothing known, nothing said
    if (stat !== null) return;
    const hosts = this.options.connectionString.slice(0, -chroot.length);
    this.logger.error(
      `ZooKeeper chroot ${chroot} does not exist on ${hosts}: every lock fails with NO_NODE until it is created, ` +
        `e.g. \`zkCli.sh -server ${hosts} create ${chroot}\` (create each missing parent first)`,
    );
  }

  /** Closes the session so its ephemeral nodes vanish now, not after the session timeout. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopWatchdog();
      clearTimeout(this.reopenTimer);
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

  /** Creates a node. With `onSession`, it is sent only on that session (see `multi`). */
  create(path: string, options: { data?: Buffer; mode?: CreateMode; onSession?: string } = {}): Promise<CreateResult> {
    if (options.mode === 'container') {
      return this.execute<CreateResult>(
        'create',
        path,
        (session, done) =>
          session.createContainer(path, options.data, this.acl, (e, created) =>
            done(e, e ? undefined : { path: created!.path, sessionId: session.id as string }),
          ),
        options.onSession,
      );
    }
    const mode = MODE_FLAGS[options.mode ?? 'persistent'];
    return this.execute<CreateResult>(
      'create',
      path,
      (session, done) =>
        session.client.create(path, options.data, this.acl, mode, (e, created) =>
          done(e, e ? undefined : { path: created as string, sessionId: session.id as string }),
        ),
      options.onSession,
    );
  }

  /**
   * Deletes a node; `version` -1 (default) matches any version. With `onSession`, it is sent only on that
   * session (see `multi`).
   */
  remove(path: string, version = -1, onSession?: string): Promise<void> {
    return this.execute<void>('remove', path, (session, done) => session.client.remove(path, int32Version(version), done), onSession);
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
   * Records (or, with undefined, clears) a problem that makes locks fail although the session is fine,
   * such as a lock directory with a foreign ACL; the health indicator reports down while any is set.
   */
  reportProblem(key: string, message: string | undefined): void {
    if (message === undefined) this.problems.delete(key);
    else this.problems.set(key, message);
  }

  /** Problems reported by reportProblem, oldest first. */
  get healthProblems(): string[] {
    return [...this.problems.values()];
  }

  /** The ACL of a node (ZooKeeper checks none on reading it). */
  /**
   * ZooKeeper's sync: resolves once the member we are connected to has caught up with the leader as of
   * this call, so a read after it sees every write the ensemble had committed before the sync.
   */
  sync(path = '/'): Promise<void> {
    return this.execute<void>('sync', path, (session, done) => session.sync(path, (e) => done(e, undefined)));
  }

  getAcl(path: string): Promise<AclEntry[]> {
    return this.execute<AclEntry[]>('getACL', path, (session, done) =>
      session.client.getACL(path, (e, acls) =>
        done(e, e ? undefined : (acls ?? []).map((a) => ({ scheme: a.id.scheme, id: a.id.id, permissions: a.permission }))),
      ),
    );
  }

  /**
   * @internal (used by the lock recipes; not part of the published types)
   * Runs `send` (which starts requests: create, getData, ...) and writes every request it starts to the
   * socket at once, in one write, before returning. For a request with a read pipelined right behind it.
   * Changes nothing of what each request does or answers.
   */
  together<T>(send: () => T): T {
    const session = this.session;
    return session && this.state === 'connected' && !this.closing ? session.together(send) : send();
  }

  /**
   * Several operations as one atomic MULTI request (one round trip): all apply or none. On failure the
   * ZookeeperError carries the code and `opIndex` of the operation that failed.
   *
   * `onSession` (a session id): the request is sent only on that session, and fails with
   * SESSION_EXPIRED, unsent, when another one is live by the time it would go out (after a wait out of a
   * suspension, say). For a write that relies on what a read on that session proved (a node's owner and
   * version): on a later session a node of the same name and version may be someone else's.
   */
  multi(ops: MultiOp[], onSession?: string): Promise<MultiResult[]> {
    return this.execute('multi', ops[0]?.path, (session, done) => {
      const raw = ops.map((op): RawMultiOp => {
        if (op.op === 'create') {
          const flags = op.mode === 'container' ? CONTAINER_FLAGS : MODE_FLAGS[op.mode ?? 'persistent'];
          return { type: 'create', path: op.path, data: op.data, acl: this.acl, flags };
        }
        if (op.op === 'remove') return { type: 'remove', path: op.path, version: int32Version(op.version ?? -1) };
        if (op.op === 'setData') return { type: 'setData', path: op.path, data: op.data, version: int32Version(op.version ?? -1) };
        return { type: 'check', path: op.path, version: int32Version(op.version) };
      });
      session.multi(raw, (error, results) => {
        const failedAt = results?.findIndex((r) => r.type === RAW_OP.ERROR && r.err !== 0) ?? -1;
        if (failedAt >= 0) {
          const code = results![failedAt].err as number;
          done(null, undefined, new ZookeeperError(zookeeperCodeName(code), `multi op ${failedAt} (${ops[failedAt].op} ${ops[failedAt].path}) failed: ${zookeeperCodeName(code)}`, ops[failedAt].path, failedAt));
          return;
        }
        if (error) return done(error);
        done(null, (results ?? []).map((r, i) => (ops[i].op === 'create' ? { op: 'create', path: r.path as string } : { op: ops[i].op })) as MultiResult[]);
      });
    }, onSession);
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
  private execute<T>(name: string, path: string | undefined, send: Sender<T>, onSession?: string): Promise<T> {
    // While closing, the state still says connected but the session is already being torn down.
    if (this.closing) return Promise.reject(this.unavailable(name, path));
    if (this.state === 'connected') return this.dispatch(name, path, send, performance.now(), onSession);
    if (this.state !== 'suspended') return Promise.reject(this.unavailable(name, path));
    const started = performance.now();
    return this.waitForConnection(this.options.operationTimeout).then((connected) => {
      if (!connected || this.closing) throw this.unavailable(name, path);
      return this.dispatch(name, path, send, started, onSession);
    });
  }

  private dispatch<T>(name: string, path: string | undefined, send: Sender<T>, started: number, onSession?: string): Promise<T> {
    const session = this.session as ZookeeperSession;
    // A ZookeeperSession's id never changes (a new session is a new one), so this holds until the answer.
    if (onSession !== undefined && session.id !== onSession) {
      const message = `${name}${path ? ` ${path}` : ''} not sent: it was meant for ZooKeeper session 0x${onSession}, which ended (session 0x${session.id} is live now)`;
      return Promise.reject(new ZookeeperError('SESSION_EXPIRED', message, path));
    }
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
      const live = this.livenessOf(session);
      const sentAt = performance.now();
      const confirms = confirmsSession(name);
      const answered = (error: RawException | null, result?: T, failure?: ZookeeperError) => {
        if (confirms && answeredByServer(error)) live.confirm(sentAt);
        settle(error, result, failure);
      };
      this.measuring = true;
      try {
        send(session, answered);
      } catch (error) {
        // The client validates paths by throwing synchronously; our size guard throws the same way.
        settle(null, undefined, new ZookeeperError('BAD_ARGUMENTS', `${name} ${path ?? ''}: ${(error as Error).message}`, path));
      } finally {
        this.measuring = false;
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

  /**
   * node-zookeeper-client's parser cuts `[::1]:2181` at its first colon (host `[`): give the client the
   * servers as we parsed them, in a random order as it would (to spread sessions over the ensemble).
   */
  private useParsedServers(session: ZookeeperSession): void {
    const manager = session.client.connectionManager as unknown as { servers: ZookeeperServerAddress[] };
    const servers = parseConnectionString(this.options.connectionString).servers;
    for (let i = servers.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [servers[i], servers[j]] = [servers[j], servers[i]];
    }
    manager.servers = servers;
  }

  /**
   * Measures every request our operations hand to the client (the client queues synchronously inside
   * `send`) and refuses one over MAX_REQUEST_BYTES before it is queued: the server would drop the whole
   * connection for it. The client's own packets (handshake, auth, SetWatches, ping) are not ours to refuse.
   */
  private guardRequestSize(session: ZookeeperSession): void {
    const manager = session.client.connectionManager as unknown as {
      queue(request: SizedRequest, callback?: unknown): void;
      chrootPath?: string;
      pendingQueue: unknown[];
    };
    const queue = manager.queue.bind(manager);
    manager.queue = (request, callback) => {
      if (this.measuring) {
        const bytes = requestBytes(request, manager.chrootPath);
        if (bytes > MAX_REQUEST_BYTES) throw new RequestTooLargeError(bytes);
      }
      const pending = manager.pendingQueue.length;
      try {
        return queue(request, callback);
      } catch (error) {
        // The client gives a packet its xid and puts it on the pending queue before serializing it: one
        // that failed to serialize was never sent, and left there it would make the next reply's xid a
        // mismatch (the connection dropped under everyone). Taken back; its caller gets the error.
        if (manager.pendingQueue.length > pending) manager.pendingQueue.pop();
        throw error;
      }
    };
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(5, Math.min(100, Math.floor(this.options.operationTimeout / 10)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      const due = [...this.inFlight].filter((request) => request.deadline <= now);
      if (due.length > 0) {
        // Timers run before the socket is read: after an event-loop pause, answers to these requests may
        // already be here, unread. setImmediate runs after the I/O poll, so look again then; an answer read
        // meanwhile has settled its request (and taken it out of inFlight), and expire() is a no-op for it.
        setImmediate(() => due.forEach((request) => request.expire()));
      }
      if (this.inFlight.size === 0 && this.closing) clearInterval(this.sweeper);
    }, every);
    this.sweeper.unref();
  }

  private unavailable(name: string, path: string | undefined): ZookeeperError {
    const why = this.closing
      ? 'the service is closing'
      : this.state === 'auth-failed'
        ? 'authentication failed'
        : `no live session (state: ${this.state})`;
    return new ZookeeperError('UNAVAILABLE', `ZooKeeper unavailable for ${name}${path ? ` ${path}` : ''}: ${why}`, path);
  }

  private openSession(): void {
    const session = new ZookeeperSession(
      this.zookeeper,
      {
        connectionString: this.options.connectionString,
        sessionTimeout: this.options.sessionTimeout,
        retryDelay: this.options.retryDelay,
        auth: secretsOf(this).auth,
        tls: secretsOf(this).tls,
      },
      (s, event) => this.onSessionEvent(s, event),
    );
    this.session = session;
    this.useParsedServers(session);
    this.guardRequestSize(session);
    const live = this.livenessOf(session);
    live.openedAt = performance.now(); // the first handshake is sent after this
    session.start();
    this.scheduleWatchdog(session.timeout);
  }

  private onSessionEvent(session: ZookeeperSession, event: SessionEvent): void {
    if (session !== this.session) return;
    switch (event) {
      case 'connected': {
        // The server answered our handshake: it heard us no earlier than when this attempt started.
        const live = this.livenessOf(session);
        live.confirm(attemptStart(session, live));
        live.heartbeatInFlight = false;
        this.scheduleWatchdog(session.timeout); // the negotiated timeout may differ from the last one
        this.lastGrantedTimeout = session.timeout;
        this.connections += 1;
        this.stillborn = 0;
        this.setState({ state: 'connected', sessionId: session.id });
        this.wakeConnectionWaiters();
        break;
      }
      case 'disconnected':
        this.logger.warn(`ZooKeeper connection lost; session 0x${session.id} suspended, reconnecting`);
        this.setState({ state: 'suspended', sessionId: session.id });
        break;
      case 'expired':
        if (session.id !== undefined) this.logger.error(`ZooKeeper session 0x${session.id} expired: its locks are gone; opening a new session`);
        this.replaceSession(session, 'expired');
        break;
      case 'lost':
        this.replaceSession(session, 'lost');
        break;
      case 'unavailable':
        if (this.state !== 'connecting') break;
        this.logger.error(
          `ZooKeeper ${this.options.connectionString}: no member answered a handshake within ${session.timeout} ms; still trying` +
            (session.lastTlsFailure ? ` (last failure: ${session.lastTlsFailure})` : ''),
        );
        this.setState({ state: 'unavailable' });
        this.wakeConnectionWaiters();
        break;
      case 'auth-failed':
        this.logger.error(`ZooKeeper refused the credentials given in \`auth\`; not reconnecting`);
        this.stopWatchdog();
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
    // A listener of that state may have closed the service: then no new session may be opened.
    if (this.closing) return;
    this.setState({ state: 'connecting' });
    this.wakeConnectionWaiters();
    if (session.id !== undefined) {
      this.stillborn = 0;
      return this.openSession();
    }
    // A session that never connected was answered as expired at its very first handshake: no real member
    // does that to a new session (a misbehaving server or proxy does, every time). Opening the next one at
    // once would be thousands of connections a second, each with a log line; so pause, growing from
    // retryDelay (jittered, at most 30 s), and say so once per run.
    this.stillborn += 1;
    const base = Math.max(this.options.retryDelay, 50);
    const pause = Math.min(base * 2 ** Math.min(this.stillborn - 1, 10), 30_000) * (0.8 + Math.random() * 0.4);
    if (this.stillborn === 1) {
      this.logger.error(`ZooKeeper ${this.options.connectionString} answered a new session's handshake as expired; trying again, with growing pauses`);
    }
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!this.closing && !this.session) this.openSession();
    }, pause);
  }

  /**
   * The client never notices a silent server (no read timeout) nor a session the server has expired while
   * we could not reach it. Every `checkEvery` (from the NEGOTIATED timeout, re-planned on every connect),
   * using the send time of the latest answered request (see session-watchdog.ts):
   * - connected and nothing confirmed for a while: a heartbeat (a cheap read) asks the server;
   * - connected and still nothing confirmed at half the session timeout: drop the connection, so the client
   *   reconnects (to another member if there is one), as ZooKeeper's own clients do;
   * - in any state, nothing confirmed for `lostAfter` (< the session timeout): give the session up as lost,
   *   before the server can expire it and another session can take our ephemeral nodes.
   */
  private scheduleWatchdog(timeout: number): void {
    const { checkEvery } = watchdogPlan(timeout);
    if (this.watchdog && this.watchdogPeriod === checkEvery) return;
    clearInterval(this.watchdog);
    this.watchdogPeriod = checkEvery;
    this.watchdog = setInterval(() => this.checkSession(), checkEvery);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private checkSession(): void {
    const session = this.session;
    if (!session || this.closing) return;
    if (!session.connected) {
      // A connection attempt that got no handshake answer: drop it so the client tries again. A new session
      // only knows the timeout it asked for; the one the server granted last time is the better guess.
      const timeout = Math.min(session.timeout, this.lastGrantedTimeout ?? session.timeout);
      const attemptLimit = this.options.retryDelay + Math.max(1_000, Math.floor(timeout / 3));
      if (session.attemptStartedAt > 0 && Date.now() - session.attemptStartedAt > attemptLimit) session.dropConnection();
    }
    if (!session.id) return; // no session yet: nothing to lose
    const live = this.livenessOf(session);
    const decide = () =>
      watchdogVerdict(watchdogPlan(session.timeout), performance.now() - live.confirmedAt, session.connected, live.heartbeatInFlight);
    const first = decide();
    if (first === 'ok') return;
    if (first === 'heartbeat') return this.heartbeat(session, live);
    // Timers run before the socket is read: after an event-loop pause, answers that prove the server heard
    // us may be waiting unread. Read them (setImmediate runs after the I/O poll) before dropping or giving up.
    setImmediate(() => {
      if (session !== this.session || this.closing) return;
      const verdict = decide();
      const confirmedFor = Math.round(performance.now() - live.confirmedAt);
      if (verdict === 'heartbeat') this.heartbeat(session, live);
      else if (verdict === 'drop') {
        this.logger.warn(`ZooKeeper confirmed nothing for ${confirmedFor} ms; dropping the connection to reconnect`);
        session.dropConnection();
      } else if (verdict === 'lost') {
        this.logger.error(
          `ZooKeeper confirmed nothing for ${confirmedFor} ms (session timeout ${session.timeout} ms): ` +
            `session 0x${session.id} and its locks are lost; opening a new session`,
        );
        this.replaceSession(session, 'lost');
      }
    });
  }

  /**
   * A sync, whose answer proves the ensemble's leader heard us when we sent it (a read could be answered
   * by a follower cut off from the leader; see sync-request.ts). No node is needed: it is answered even
   * under a missing chroot, and writes nothing.
   */
  private heartbeat(session: ZookeeperSession, live: SessionLiveness): void {
    live.heartbeatInFlight = true;
    const sentAt = performance.now();
    try {
      session.sync('/', (error) => {
        live.heartbeatInFlight = false;
        if (answeredByServer(error)) live.confirm(sentAt);
      });
    } catch {
      live.heartbeatInFlight = false;
    }
  }

  private livenessOf(session: ZookeeperSession): SessionLiveness {
    let live = this.liveness.get(session);
    if (!live) {
      live = new SessionLiveness();
      this.liveness.set(session, live);
    }
    return live;
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
    const acl = secretsOf(this).acl;
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
 * When the attempt that just connected started, on the monotonic clock of SessionLiveness. The session
 * notes it with Date.now(); over the few seconds of an attempt a wall-clock step is unlikely, and one that
 * makes no sense (negative) falls back to the session's start, which is earlier and so on the safe side.
 */
function attemptStart(session: ZookeeperSession, live: SessionLiveness): number {
  const elapsed = Date.now() - session.attemptStartedAt;
  return session.attemptStartedAt > 0 && elapsed >= 0 ? performance.now() - elapsed : live.openedAt;
}

/** False for the errors the client makes up without hearing from the server (see LOCAL_CLIENT_CODES). */
function answeredByServer(error: RawException | null | undefined): boolean {
  return !error || !LOCAL_CLIENT_CODES.has(error.getCode());
}

/**
 * A version as the wire carries it (a signed 32-bit int). Checked before the request is queued: one the
 * client cannot serialize would fail only when written, after it took an xid, and the next reply's xid
 * would then not match: the connection dropped under every other request (BAD_ARGUMENTS to the caller).
 */
function int32Version(version: number): number {
  if (!Number.isInteger(version) || version < -(2 ** 31) || version > 2 ** 31 - 1) {
    throw new Error(`version ${version} is not a 32-bit integer (-1 for any version)`);
  }
  return version;
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
    ctime: Number(stat.ctime.readBigInt64BE(0)),
    version: stat.version,
    cversion: stat.cversion,
    numChildren: stat.numChildren,
    dataLength: stat.dataLength,
    ephemeralOwner: owner === 0n ? undefined : stat.ephemeralOwner.toString('hex'),
  };
}
