import type { RawClient, RawModule } from './zookeeper-client.types';
import { RAW_STATE } from './zookeeper-client.types';

export type SessionEvent = 'connected' | 'disconnected' | 'expired' | 'auth-failed';

export interface SessionSettings {
  connectionString: string;
  sessionTimeout: number;
  retryDelay: number;
  auth: string[];
}

/**
 * One node-zookeeper-client instance, which is one ZooKeeper session for its whole life: once that session
 * expires or is given up, the instance is destroyed and a new Session is built.
 *
 * It adds what the client lacks: the time we last heard from the server (the client has no read timeout,
 * so a silent server otherwise looks connected forever), a way to drop a silent connection, and a
 * destroy that really stops the client's reconnect loop.
 */
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
  private destroyed = false;

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
    // Note when each connection attempt starts: the client waits forever for a handshake answer (its
    // connect timeout stops once TCP connects), so the service's watchdog bounds attempts itself.
    const manager = this.client.connectionManager as unknown as { connect(): void };
    const connect = manager.connect.bind(manager);
    manager.connect = () => {
      this.attemptStartedAt = Date.now();
      connect();
    };
    this.client.on('connected', () => this.handleConnected());
    this.client.on('disconnected', () => this.handleDisconnected());
    this.client.on('expired', () => this.emit('expired'));
    this.client.on('authenticationFailed', () => this.emit('auth-failed'));
  }

  start(): void {
    this.client.connect();
  }

  private handleConnected(): void {
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
    if (closeSession && this.connected && socket && !socket.destroyed) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      this.client.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.client.removeAllListeners();
    // CLOSING is the one state in which the client does not reconnect when its socket closes; a pending
    // reconnect attempt ends the same way once its socket closes.
    manager.state = RAW_STATE.CLOSING;
    manager.socket?.destroy();
    this.connected = false;
  }
}
