import { Logger } from '@nestjs/common';
import type { RawAcl, RawClient, RawException, RawModule, RawStat } from './zookeeper-client.types';
import { HardenedConnection, PatchableManager, hardenConnectionManager } from './connection-manager.patch';
import { createContainer } from './container-create';
import { queueSync } from './sync-request';
import { multiRequest, RawMultiOp, RawMultiResult } from './multi-request';
import type { ResolvedTlsOptions } from './socket-dialer';

/**
 * - `connected` / `disconnected`: a connection of this session came up / went down.
 * - `expired`: the server says this session is over (or answered under another session id).
 * - `lost`: the connection flapped (connected, dropped before carrying a single reply) for a whole session
 *   timeout: the session cannot be used, so it is given up.
 * - `unavailable`: no handshake succeeded within a session timeout of the session's start (it keeps trying).
 * - `auth-failed`: the server refused the credentials.
 */
export type SessionEvent = 'connected' | 'disconnected' | 'expired' | 'lost' | 'unavailable' | 'auth-failed';

const logger = new Logger('ZookeeperLock');

export interface SessionSettings {
  connectionString: string;
  sessionTimeout: number;
  retryDelay: number;
  auth: string[];
  /** Dial every member over TLS with these settings; undefined: plain TCP. */
  tls?: ResolvedTlsOptions;
}

/**
 * One node-zookeeper-client instance, which is one ZooKeeper session for its whole life: once that session
 * expires or is given up, the instance is destroyed and a new Session is built.
 *
 * It adds what the client lacks: the time we last heard from the server (the client has no read timeout,
 * so a silent server otherwise looks connected forever), a way to drop a silent connection, a destroy
 * that really stops the client's reconnect loop, bounds for a session that never connects
 * (`unavailable`) or whose connection only flaps (`lost`), and CONTAINER creates. The client's socket
 * side is replaced for this one instance (connection-manager.patch.ts).
 */
/** The part of a socket that `together` uses. */
interface Corkable {
  readonly destroyed: boolean;
  readonly writableCorked: number;
  cork(): void;
  uncork(): void;
}

export class ZookeeperSession {
  readonly client: RawClient;
  /** Hex session id; known once the first connection is made. */
  id?: string;
  /** Session timeout granted by the server (ms); our request until then. */
  timeout: number;
  /** `Date.now()` of the last bytes received from the server. */
  lastHeardAt = 0;
  connected = false;
  /** `Date.now()` when the client last started a connection attempt (it retries on its own). */
  attemptStartedAt = 0;
  /** Set when the server answered a resume under another id: the id it gave (we never adopt it). */
  replacedBy?: string;
  /** The last TLS failure since the last handshake (cleared by a handshake), for "why not connected" messages. */
  lastTlsFailure?: string;
  private destroyed = false;
  private readonly connection: HardenedConnection;
  private everConnected = false;
  private unavailableTimer?: NodeJS.Timeout;
  /**
   * Flapping: a connection that completes its handshake but drops before any reply (e.g. the server
   * refuses our SetWatches packet) revalidates the session on the server while we can never use it.
   * `lastUsableAt` is the last reply on a connection after its handshake (or the session's start);
   * `handshakesSinceUsable` counts handshakes since then.
   */
  private lastUsableAt = 0;
  private handshakesSinceUsable = 0;

  constructor(
    zookeeper: RawModule,
    settings: SessionSettings,
    private readonly onEvent: (session: ZookeeperSession, event: SessionEvent) => void,
  ) {
    this.timeout = settings.sessionTimeout;
    this.client = zookeeper.createClient(settings.connectionString, {
      sessionTimeout: settings.sessionTimeout,
      spinDelay: settings.retryDelay,
      // Never let the client retry on its own: a create retried after CONNECTION_LOSS may already have
      // been applied. Unknown outcomes are resolved by the lock layer, which knows what it asked for.
      retries: 0,
    });
    for (const credentials of settings.auth) this.client.addAuthInfo('digest', Buffer.from(credentials));
    // The client's socket side is replaced for this instance (see connection-manager.patch.ts).
    this.connection = hardenConnectionManager(this.client.connectionManager as unknown as PatchableManager, {
      attemptStarted: () => (this.attemptStartedAt = Date.now()),
      handshakeDone: () => {
        this.lastTlsFailure = undefined;
        this.handshakesSinceUsable += 1;
        if (this.lastUsableAt === 0) this.lastUsableAt = Date.now();
      },
      replyReceived: () => {
        this.lastUsableAt = Date.now();
        this.handshakesSinceUsable = 0;
      },
      sessionReplaced: (asked, answered) => {
        this.replacedBy = answered;
        logger.error(`ZooKeeper answered a resume of session 0x${asked} with session 0x${answered}: session 0x${asked} is treated as expired`);
      },
      protocolError: (error) => {
        if (!this.destroyed) logger.warn(`Dropped a ZooKeeper connection that sent unreadable bytes (${error.message}); reconnecting`);
      },
      listenerError: (error) => logger.error(`A ZooKeeper callback threw: ${(error as Error)?.stack ?? error}`),
      tlsFailed: (message) => {
        if (this.destroyed) return;
        // Once per cause, not once per retry (every member, every round): the retry loop goes on meanwhile.
        if (message !== this.lastTlsFailure) logger.error(`${message}; retrying`);
        this.lastTlsFailure = message;
      },
    }, settings.tls);
    this.client.on('connected', () => this.handleConnected());
    this.client.on('disconnected', () => this.handleDisconnected());
    this.client.on('expired', () => this.emit('expired'));
    this.client.on('authenticationFailed', () => this.emit('auth-failed'));
  }

  start(): void {
    // A session that never gets a handshake is bounded: report it after a session timeout (no session
    // could have outlived that anyway), and keep trying every member of the connection string.
    this.unavailableTimer = setTimeout(() => {
      if (!this.everConnected) this.emit('unavailable');
    }, this.timeout);
    this.unavailableTimer.unref();
    this.client.connect();
  }

  /**
   * Runs `send`, which queues requests, and puts what it queues on the socket in one write (a request
   * and the read pipelined behind it: one syscall here, one read on the server, instead of two). The
   * socket is uncorked before this returns: nothing waits for a later tick.
   */
  together<T>(send: () => T): T {
    const socket = (this.client.connectionManager as unknown as { socket?: Corkable }).socket;
    if (!socket || socket.destroyed || socket.writableCorked > 0) return send();
    socket.cork();
    try {
      return send();
    } finally {
      socket.uncork();
    }
  }

  /** Queues a createContainer request (ZooKeeper 3.5+); see container-create.ts. */
  createContainer(path: string, data: Buffer | undefined, acl: RawAcl[], callback: (error: RawException | null, created?: { path: string; stat: RawStat }) => void): void {
    createContainer(this.client.connectionManager as unknown as PatchableManager, path, data, acl, callback);
  }

  /** Queues a sync (answered only once the ensemble's leader has answered); see sync-request.ts. */
  sync(path: string, callback: (error: RawException | null) => void): void {
    queueSync(this.client.connectionManager as unknown as PatchableManager, path, callback);
  }

  /** Queues a MULTI of `ops` (see multi-request.ts); throws synchronously on an invalid request. */
  multi(ops: RawMultiOp[], callback: (error: RawException | null, results?: RawMultiResult[]) => void): void {
    const manager = this.client.connectionManager as unknown as { queue(request: unknown, cb: (e: RawException | null, r?: { payload: { results: RawMultiResult[] } }) => void): void };
    manager.queue(multiRequest(ops), (error, response) => (error ? callback(error) : callback(null, response!.payload.results)));
  }

  private handleConnected(): void {
    this.everConnected = true;
    clearTimeout(this.unavailableTimer);
    this.connected = true;
    this.lastHeardAt = Date.now();
    this.id = this.client.getSessionId().toString('hex');
    this.timeout = this.client.getSessionTimeout();
    // The socket is new on every reconnect; listen to it to know when the server last spoke.
    this.client.connectionManager.socket?.on('data', () => {
      this.lastHeardAt = Date.now();
    });
    this.emit('connected');
  }

  private handleDisconnected(): void {
    if (!this.connected) return; // a failed connection attempt, not a disconnection
    this.connected = false;
    this.emit('disconnected');
    // Two handshakes in a row that carried nothing, for a whole session timeout: the connection flaps
    // without end. The session is unusable (its watches cannot be restored, requests never get through),
    // so it is given up as lost rather than left "suspended" forever.
    if (this.handshakesSinceUsable >= 2 && Date.now() - this.lastUsableAt >= this.timeout) {
      logger.error(`ZooKeeper connection of session 0x${this.id} keeps dropping right after its handshake; giving the session up`);
      this.emit('lost');
    }
  }

  private emit(event: SessionEvent): void {
    if (!this.destroyed) this.onEvent(this, event);
  }

  /** Drops the current connection (e.g. a silent server); the client reconnects, to another server if any. */
  dropConnection(): void {
    this.client.connectionManager.socket?.destroy();
  }

  /**
   * Ends this client for good. With `closeSession` and a live connection, asks the server to close the
   * session first (its ephemeral nodes vanish at once) and waits up to `graceMs` for that.
   */
  async destroy(closeSession: boolean, graceMs: number): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const manager = this.client.connectionManager;
    const socket = manager.socket;
    try {
      if (closeSession && this.connected && socket && !socket.destroyed) {
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        let timer: NodeJS.Timeout | undefined;
        try {
          this.client.close(); // may throw (a request that cannot be serialized); we abandon below anyway
          await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
        } finally {
          clearTimeout(timer);
        }
      }
    } finally {
      clearTimeout(this.unavailableTimer);
      this.client.removeAllListeners();
      // No reconnect timer, spin-delay timer or connect in progress may ever send another ConnectRequest:
      // that would revalidate a session we have given up and keep its lock nodes alive. Whatever failed above.
      this.connection.abandon();
      this.connected = false;
    }
  }
}
