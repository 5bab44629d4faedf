/**
 * Our own typings for the part of node-zookeeper-client 1.1.3 we use. @types/node-zookeeper-client is
 * incomplete and partly wrong (ACL field names, `exists` answering null), so we describe what the
 * JavaScript actually does. Nothing outside `lib/zookeeper/` imports these.
 */

export interface RawException extends Error {
  getCode(): number;
  getName(): string;
  /** Set by our guard when the server sent a code this client does not know. */
  unknownCode?: number;
}

export interface RawStat {
  czxid: Buffer;
  mzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
  pzxid: Buffer;
}

export interface RawId {
  scheme: string;
  id: string;
}

export interface RawAcl {
  permission: number;
  id: RawId;
}

export interface RawEvent {
  type: number;
  name: string;
  path: string;
}

export type Callback<T> = (error: RawException | null, result?: T) => void;
export type Watcher = (event: RawEvent) => void;

export interface RawTransaction {
  /** The ops added so far, as the client will serialize them. */
  ops: Array<{ type: number; path: string; version?: number }>;
  create(path: string, data: Buffer | undefined, acls: RawAcl[], mode: number): RawTransaction;
  remove(path: string, version: number): RawTransaction;
  check(path: string, version: number): RawTransaction;
  commit(callback: (error: RawException | null, results?: RawMultiResult[]) => void): void;
}

export interface RawMultiResult {
  type: number;
  path?: string;
  err?: number;
}

/** The internals we read or steer for liveness; see zookeeper-client.guard.ts and session.ts. */
export interface RawConnectionManager {
  state: number;
  socket?: import('net').Socket;
}

export interface RawClient {
  connect(): void;
  close(): void;
  on(event: 'connected' | 'disconnected' | 'expired' | 'authenticationFailed', listener: () => void): this;
  removeAllListeners(): this;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(path: string, data: Buffer | undefined, acls: RawAcl[], mode: number, callback: Callback<string>): void;
  remove(path: string, version: number, callback: Callback<void>): void;
  exists(path: string, watcher: Watcher | undefined, callback: Callback<RawStat | null>): void;
  getData(path: string, watcher: Watcher | undefined, callback: (e: RawException | null, data?: Buffer, stat?: RawStat) => void): void;
  getChildren(path: string, watcher: Watcher | undefined, callback: (e: RawException | null, children?: string[], stat?: RawStat) => void): void;
  transaction(): RawTransaction;
  getACL(path: string, callback: (e: RawException | null, acls?: RawAcl[], stat?: RawStat) => void): void;
  connectionManager: RawConnectionManager;
}

export interface RawClientOptions {
  sessionTimeout: number;
  spinDelay: number;
  retries: number;
  sessionId?: Buffer;
  sessionPassword?: Buffer;
}

export interface RawModule {
  createClient(connectionString: string, options: RawClientOptions): RawClient;
  ACL: new (permission: number, id: RawId) => RawAcl;
  Id: new (scheme: string, id: string) => RawId;
  Exception: Record<string, number> & { create(code: number, path?: string): RawException };
}

/** Connection-manager states of the client (ConnectionManager.STATES). */
export const RAW_STATE = {
  DISCONNECTED: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CLOSING: -1,
  CLOSED: -2,
} as const;

/** Server op codes we read back from multi results. */
export const RAW_OP = { CREATE: 1, DELETE: 2, CHECK: 13, ERROR: -1 } as const;

/** ZooKeeper create modes. */
export const CREATE_MODE = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
} as const;
