/**
 * A per-instance replacement of node-zookeeper-client's socket side (ConnectionManager: connect,
 * findNextServer, the data and close handlers). node_modules stays untouched; only the instance we were
 * given is changed, and its request queue, watcher manager and public API stay the client's own.
 *
 * What the client gets wrong, and what this does instead:
 * - It keeps an unfinished reply (`pendingBuffer`) across connections, so a connection cut mid-reply
 *   corrupts every later handshake. Here every socket has its own FrameReader, created empty.
 * - A malformed frame throws inside its socket handler (an uncaught exception: `offset: 4 is out of
 *   buffer range`). Here any parse error destroys that one socket, and the client reconnects.
 * - Its handshake answer is believed whatever it says. Here it is read strictly, and an answer under a
 *   different session id than the one we asked to resume ends the old session (reported as expired).
 * - Its connect timeout stops once TCP connects, so a member that accepts and never answers (or answers
 *   garbage slowly) holds the client forever. Here the whole handshake is bounded.
 * - It re-sends all watches in one SetWatches packet (over 1 MiB: dropped by the server, forever); here
 *   they go in 128 kB batches.
 * - Packets queued for one connection (auth, SetWatches) stay queued for the next and pile up while the
 *   connection flaps; here they are rebuilt for every connection and the leftovers dropped.
 * - Its spin-delay timer and pending reconnects outlive close(); `abandon()` stops them for good.
 * - It knows no create2/createContainer answer (it destroys the socket); here they are decoded.
 * - It speaks plain TCP only; here a member can be dialed over TLS (socket-dialer.ts), and the ZooKeeper
 *   handshake waits for the TLS one.
 */
import { SYNC_OP } from './sync-request';
import type net from 'node:net';
import { setImmediate as realSetImmediate } from 'node:timers';
import { batchWatches } from './set-watches-batches';
import { FrameReader, WireProtocolError, judgeHandshake, parseConnectAnswer } from './wire-frames';
import { ResolvedTlsOptions, describeTlsFailure, dialServer } from './socket-dialer';
import { MultiRequest, MultiResponse } from './multi-request';
import { Field, measureToEnd, SHAPES } from './reply-shapes';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const jute = require('node-zookeeper-client/lib/jute') as any;
const Exception = require('node-zookeeper-client/lib/Exception.js') as { create(code: number): Error; AUTH_FAILED: number; CONNECTION_LOSS: number };
const STATES = require('node-zookeeper-client/lib/ConnectionManager.js').STATES as Record<string, number>;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Op codes the client does not know. */
export const EXTRA_OP = { CREATE2: 15, CREATE_CONTAINER: 19 } as const;

const XID = { NOTIFICATION: -1, PING: -2, AUTHENTICATION: -4 } as const;
const OP = jute.OP_CODES as Record<string, number>;

interface Packet {
  request: { header: { type: number; xid: number } | null; payload: unknown };
  callback?: (error: Error | null, response?: unknown) => void;
}

/** The ConnectionManager fields and methods this patch reads or replaces. */
export interface PatchableManager {
  state: number;
  socket?: net.Socket;
  servers: Array<{ host: string; port: number }>;
  nextServerIndex: number;
  serverAttempts: number;
  spinDelay: number;
  connectTimeout: number;
  pingTimeout: number;
  sessionTimeout: number;
  sessionId: Buffer;
  sessionPassword: Buffer;
  zxid: Buffer;
  /** Number of the next request (the patch wraps it at MAX_XID). */
  xid: number;
  chrootPath?: string;
  credentials: Array<{ scheme: string; auth: Buffer }>;
  pendingBuffer: Buffer | null;
  pendingQueue: Packet[];
  packetQueue: { queue: Packet[]; prependListener(event: 'readable', listener: () => void): unknown };
  watcherManager: {
    emit(event: unknown): void;
    isEmpty(): boolean;
    getDataWatcherPaths(): string[];
    getExistenceWatcherPaths(): string[];
    getChildWatcherPaths(): string[];
  };
  setState(state: number): void;
  updateTimeout(sessionTimeout: number): void;
  queue(request: unknown, callback?: (error: any, response?: any) => void): void;
  cleanupPendingQueue(code: number): void;
  onPacketQueueReadable(): void;
  onSocketTimeout(): void;
  onSocketClosed(): void;
  connect(): void;
  findNextServer(callback: (server: { host: string; port: number }) => void): void;
}

export interface ConnectionHooks {
  /** A connection attempt (TCP connect + handshake) starts. */
  attemptStarted(): void;
  /** The server answered our handshake (the connection is now usable). */
  handshakeDone(): void;
  /** A frame after the handshake arrived: the connection carries traffic, not just a handshake. */
  replyReceived(): void;
  /** The handshake came back under another session id than the one we asked to resume. */
  sessionReplaced(askedId: string, answeredId: string): void;
  /** Bytes that are not ZooKeeper's; the connection that carried them was dropped. */
  protocolError(error: Error): void;
  /** A callback or watcher threw; the connection goes on. */
  listenerError(error: unknown): void;
  /** A TLS connection failed for a TLS reason (certificate, protocol); the client tries again. */
  tlsFailed(message: string): void;
}

export interface HardenedConnection {
  /** Stops this client for good: no reconnect timer, no pending connect, no socket. */
  abandon(): void;
}

/** Largest request xid: jute writes it as a signed 32-bit int. */
export const MAX_XID = 0x7fffffff;

/**
 * The client numbers requests with a counter that only grows and never resets while the session lives.
 * At 2^31 (8 days at 3,000 requests/s) serializing a request throws after it was queued as pending, so
 * every later request, the heartbeat and even the close of the session fail, and the session keeps its
 * locks while nothing can reach it. As the Java client does, the counter wraps to 1 (negative xids are
 * the protocol's reserved ones; 0 is never used). Replies are matched in order, so reuse is safe.
 */
function wrapXid(manager: PatchableManager): void {
  let xid = typeof manager.xid === 'number' && manager.xid > 0 ? manager.xid : 1;
  Object.defineProperty(manager, 'xid', {
    configurable: true,
    enumerable: true,
    get: () => xid,
    set: (value: number) => {
      xid = Number.isInteger(value) && value >= 1 && value <= MAX_XID ? value : 1;
    },
  });
}

/**
 * Requests queued in one burst leave in one socket write instead of one write (a syscall here, a read on
 * the server) each. Under load a chunk of replies wakes many callers, each of which queues its next
 * request from its own promise continuation. The first request of a burst is written at once, as before
 * (a lone request waits for nothing); the ones after it in the same tick are corked, and leave together
 * once the burst's callbacks and microtasks have run (a tick scheduled from a microtask runs after the
 * microtask queue has drained). (ZookeeperSession.together corks one group of its own: left alone here.)
 */
function writeCoalescer(manager: PatchableManager): () => void {
  let burst: object | undefined; // the burst under way: a schedule of an earlier one ends nothing
  let corked: net.Socket | undefined;
  const endBurst = (which: object) => {
    if (which !== burst) return; // ended already, by the other of its two schedules
    burst = undefined;
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  return () => {
    const socket = manager.socket;
    if (!socket || socket.destroyed || socket.writableCorked > 0) return;
    if (!burst) {
      burst = {};
      process.nextTick(endBurst, burst);
      // Also node:timers' own setImmediate, which fake timers leave alone (jest.useFakeTimers fakes the
      // global one and process.nextTick): a faked tick must never leave the socket corked.
      realSetImmediate(endBurst, burst);
    } else {
      socket.cork();
      corked = socket;
    }
  };
}

/** `tls`: connect over TLS with these settings; undefined: plain TCP. */
export function hardenConnectionManager(manager: PatchableManager, hooks: ConnectionHooks, tls?: ResolvedTlsOptions): HardenedConnection {
  let abandoned = false;
  let spinTimer: NodeJS.Timeout | undefined;
  let handshakeTimer: NodeJS.Timeout | undefined;
  const closeAsClient = manager.onSocketClosed;

  manager.pendingBuffer = null; // never read again: buffers live per socket
  wrapXid(manager);
  // Before the client's own listener, which writes each request to the socket as it is queued.
  const coalesce = writeCoalescer(manager);
  manager.packetQueue.prependListener('readable', coalesce);

  // As the client's, but the timer is ours to cancel, and nothing runs once abandoned.
  manager.findNextServer = (callback) => {
    manager.nextServerIndex %= manager.servers.length;
    const pick = () => {
      const server = manager.servers[manager.nextServerIndex];
      manager.nextServerIndex += 1;
      callback(server);
    };
    if (manager.serverAttempts === manager.servers.length) {
      // Every member tried once: wait a random part of the spin delay before the next round.
      spinTimer = setTimeout(() => {
        spinTimer = undefined;
        if (abandoned) return;
        manager.serverAttempts = 0;
        pick();
      }, Math.random() * manager.spinDelay);
    } else {
      manager.serverAttempts += 1;
      process.nextTick(() => {
        if (!abandoned) pick();
      });
    }
  };

  manager.connect = () => {
    if (abandoned) return;
    manager.setState(STATES.CONNECTING);
    manager.findNextServer((server) => openSocket(server));
  };

  manager.onSocketClosed = () => {
    clearTimeout(handshakeTimer);
    dropQueuedPackets();
    if (abandoned) {
      manager.cleanupPendingQueue(Exception.CONNECTION_LOSS);
      manager.state = STATES.CLOSED;
      return;
    }
    closeAsClient.call(manager); // fails pending requests, then reconnects unless closing/expired
  };

  function openSocket(server: { host: string; port: number }): void {
    if (abandoned) return;
    hooks.attemptStarted();
    const { socket, readyEvent } = dialServer(server, tls);
    manager.socket = socket;
    const frames = new FrameReader();
    // The session we ask to resume on this connection (zeros: a new one).
    const asked = Buffer.from(manager.sessionId);
    let handshaken = false;

    clearTimeout(handshakeTimer);
    // Bound the whole handshake, not only the TCP connect: the client's own timeout stops at 'connect',
    // so a member that accepts and never answers would hold us forever. Like the Java client, each member
    // gets its share of the session timeout.
    handshakeTimer = setTimeout(() => socket.destroy(), Math.max(manager.connectTimeout, 250));

    // Every handler runs only for the current socket, and whatever throws in it concerns this connection
    // only: the socket is dropped (the client reconnects) instead of the exception reaching the process.
    const guarded =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A): void => {
        if (manager.socket !== socket || socket.destroyed || abandoned) return;
        try {
          handler(...args);
        } catch (error) {
          socket.destroy();
          hooks.protocolError(error as Error);
        }
      };

    socket.setNoDelay();
    let secured = false;
    socket.on(
      readyEvent,
      guarded(() => {
        secured = true;
        const connectRequest = new jute.protocol.ConnectRequest(
          jute.PROTOCOL_VERSION,
          manager.zxid,
          manager.sessionTimeout,
          manager.sessionId,
          manager.sessionPassword,
        );
        socket.write(new jute.Request(null, connectRequest).toBuffer());
      }),
    );
    socket.on(
      'data',
      guarded((chunk: Buffer) => {
        for (const frame of frames.push(chunk)) {
          if (manager.socket !== socket || socket.destroyed) return; // dropped by an earlier frame
          if (handshaken) {
            hooks.replyReceived();
            handleReply(frame);
          } else {
            handshaken = handleHandshake(socket, asked, frame, guarded);
          }
        }
      }),
    );
    socket.on(
      'drain',
      guarded(() => manager.onPacketQueueReadable()),
    );
    socket.on('error', (error) => {
      // 'close' follows; reconnection happens there. A TLS failure is named (a wrong CA or a refused
      // client certificate looks like a dead server otherwise); once the session runs, errors are the network's.
      if (!tls || handshaken || abandoned) return;
      const failure = describeTlsFailure(server, error, secured);
      if (failure) hooks.tlsFailed(failure);
    });
    socket.on('close', () => {
      if (manager.socket === socket) manager.onSocketClosed();
    });
  }

  /** Returns true when the connection is now established. */
  function handleHandshake(socket: net.Socket, asked: Buffer, frame: Buffer, guarded: (handler: () => void) => () => void): boolean {
    const answer = parseConnectAnswer(frame);
    clearTimeout(handshakeTimer);
    const verdict = judgeHandshake(asked, answer);
    if (verdict !== 'resumed') {
      if (verdict === 'replaced') hooks.sessionReplaced(asked.toString('hex'), answer.sessionId.toString('hex'));
      // The session we asked for is over. We never adopt the other id: the client reports 'expired' for
      // the session it had, whose locks are then reported lost, and a new client opens a new session.
      manager.setState(STATES.SESSION_EXPIRED);
      socket.destroy();
      return false;
    }
    manager.serverAttempts = 0;
    manager.sessionId = answer.sessionId;
    manager.sessionPassword = answer.password;
    manager.updateTimeout(answer.timeOut);
    primeConnection();
    hooks.handshakeDone();
    manager.setState(STATES.CONNECTED);
    manager.onPacketQueueReadable();
    socket.setTimeout(manager.pingTimeout, guarded(() => manager.onSocketTimeout()));
    return true;
  }

  /** Credentials and watches, rebuilt for every connection, before anything else on it. */
  function primeConnection(): void {
    for (const credential of manager.credentials) {
      const header = new jute.protocol.RequestHeader();
      header.xid = XID.AUTHENTICATION;
      header.type = OP.AUTH;
      const payload = new jute.protocol.AuthPacket();
      payload.type = 0;
      payload.scheme = credential.scheme;
      payload.auth = credential.auth;
      manager.queue(new jute.Request(header, payload));
    }
    const watchers = manager.watcherManager;
    if (watchers.isEmpty()) return;
    const batches = batchWatches(
      {
        data: watchers.getDataWatcherPaths(),
        exist: watchers.getExistenceWatcherPaths(),
        child: watchers.getChildWatcherPaths(),
      },
      undefined,
      manager.chrootPath,
    );
    for (const batch of batches) {
      const header = new jute.protocol.RequestHeader();
      header.type = OP.SET_WATCHES;
      const payload = new jute.protocol.SetWatches();
      payload.relativeZxid = manager.zxid;
      payload.dataWatches = batch.data;
      payload.existWatches = batch.exist;
      payload.childWatches = batch.child;
      manager.queue(new jute.Request(header, payload));
    }
  }

  /**
   * Packets still queued when a connection closes: connection priming is rebuilt for the next connection
   * (re-sending it would pile up copies while the connection flaps); requests fail with CONNECTION_LOSS,
   * as in-flight ones do, instead of being sent on some later connection.
   */
  function dropQueuedPackets(): void {
    const queued = manager.packetQueue.queue.splice(0);
    for (const packet of queued) {
      const type = packet.request.header?.type;
      if (type === OP.AUTH || type === OP.SET_WATCHES || type === OP.PING) continue;
      safely(() => packet.callback?.(Exception.create(Exception.CONNECTION_LOSS)));
    }
  }

  function handleReply(frame: Buffer): void {
    const header = new jute.protocol.ReplyHeader();
    let offset = header.deserialize(frame, 0);
    switch (header.xid) {
      case XID.PING:
        return;
      case XID.AUTHENTICATION:
        if (header.err === Exception.AUTH_FAILED) manager.setState(STATES.AUTHENTICATION_FAILED);
        return;
      case XID.NOTIFICATION: {
        // Every length checked first: a notification cut short would name another path (a watch fired
        // for nothing, the real one lost).
        measureToEnd(frame, offset, SHAPES.notification, 'notification');
        const event = new jute.protocol.WatcherEvent();
        if (manager.chrootPath) event.setChrootPath(manager.chrootPath);
        event.deserialize(frame, offset);
        safely(() => manager.watcherManager.emit(event));
        return;
      }
    }
    const packet = manager.pendingQueue.shift();
    if (!packet || !packet.request.header || packet.request.header.xid !== header.xid) {
      if (packet) manager.pendingQueue.unshift(packet); // failed with CONNECTION_LOSS when the socket closes
      throw new WireProtocolError(`reply xid ${header.xid} does not match the request sent`);
    }
    // The zxid of a reply is adopted only once the reply is known good: a corrupt one's zxid (past the
    // server's) would be sent at every reconnect, and the server refuses a client that claims to have seen
    // more than it has: the session, and every lock on it, would be lost.
    const adoptZxid = () => {
      if ((header.zxid as Buffer).readBigInt64BE(0) > 0n) manager.zxid = header.zxid;
    };
    if (header.err !== 0) {
      adoptZxid();
      safely(() => packet.callback?.(Exception.create(header.err), new jute.Response(header, null)));
      return;
    }
    let payload: unknown;
    try {
      payload = decodePayload(packet.request.header.type, packet.request.payload, frame, offset);
    } catch (error) {
      manager.pendingQueue.unshift(packet);
      throw error;
    }
    adoptZxid();
    safely(() => packet.callback?.(null, new jute.Response(header, payload)));
  }

  /**
   * The answer to `request`: its lengths checked against the frame first (reply-shapes.ts), then decoded
   * by jute's records, which then cannot read past the frame, backwards or for ever.
   */
  function decodePayload(type: number, sentPayload: unknown, frame: Buffer, offset: number): unknown {
    let record: any;
    let shape: readonly Field[];
    switch (type) {
      case OP.DELETE:
      case OP.SET_WATCHES:
      case OP.CLOSE_SESSION:
        measureToEnd(frame, offset, [], 'empty'); // no body: trailing bytes are corrupt too
        return null;
      case OP.CREATE:
        record = new jute.protocol.CreateResponse();
        shape = SHAPES.create;
        break;
      case OP.GET_CHILDREN2:
        record = new jute.protocol.GetChildren2Response();
        shape = SHAPES.getChildren2;
        break;
      case OP.EXISTS:
        record = new jute.protocol.ExistsResponse();
        shape = SHAPES.stat;
        break;
      case OP.SET_DATA:
        record = new jute.protocol.SetDataResponse();
        shape = SHAPES.stat;
        break;
      case OP.GET_DATA:
        record = new jute.protocol.GetDataResponse();
        shape = SHAPES.getData;
        break;
      case OP.SET_ACL:
        record = new jute.protocol.SetACLResponse();
        shape = SHAPES.stat;
        break;
      case OP.GET_ACL:
        record = new jute.protocol.GetACLResponse();
        shape = SHAPES.getAcl;
        break;
      case OP.MULTI: {
        // Our own decoder, which checks its lengths as it goes and the results against the ops sent: it
        // also knows the answers to createContainer inside a multi (multi-request.ts).
        const sent = multiOpTypes(sentPayload);
        if (!sent) throw new WireProtocolError('a MULTI answer to a request that is not a MULTI');
        const multi = new MultiResponse(sent);
        if (manager.chrootPath) multi.setChrootPath(manager.chrootPath);
        expectEnd(frame, offset + multi.deserialize(frame, offset));
        return multi;
      }
      case SYNC_OP:
        // SyncResponse: the path (unused).
        measureToEnd(frame, offset, SHAPES.sync, 'sync');
        return null;
      case EXTRA_OP.CREATE2:
      case EXTRA_OP.CREATE_CONTAINER: {
        measureToEnd(frame, offset, SHAPES.create2, 'create');
        // Create2Response: the created path, then the new node's Stat.
        const created = new jute.protocol.CreateResponse();
        if (manager.chrootPath) created.setChrootPath(manager.chrootPath);
        offset += created.deserialize(frame, offset);
        const stat = new jute.data.Stat();
        expectEnd(frame, offset + stat.deserialize(frame, offset));
        return { path: created.path, stat };
      }
      default:
        throw new WireProtocolError(`no decoder for the answer to op ${type}`);
    }
    // (jute would also allocate a declared data length before checking it: measured first, it fits.)
    measureToEnd(frame, offset, shape, 'the');
    if (manager.chrootPath) record.setChrootPath(manager.chrootPath);
    expectEnd(frame, offset + record.deserialize(frame, offset));
    return record;
  }

  /** The op codes a MULTI request carried: ours (MultiRequest), or the client's own Transaction's. */
  function multiOpTypes(payload: unknown): readonly number[] | undefined {
    if (payload instanceof MultiRequest) return payload.types;
    const ops = (payload as { ops?: Array<{ type?: unknown }> } | undefined)?.ops;
    return Array.isArray(ops) && ops.every((op) => typeof op?.type === 'number') ? ops.map((op) => op.type as number) : undefined;
  }

  /**
   * jute counts the lengths a reply declares, but reads strings only up to the end of the buffer: a
   * reply whose declared lengths do not add up to its frame exactly is corrupt, never a short answer.
   */
  function expectEnd(frame: Buffer, end: number): void {
    if (end !== frame.length) throw new WireProtocolError(`reply of ${frame.length} bytes declares ${end}`);
  }

  function safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      hooks.listenerError(error);
    }
  }

  return {
    abandon() {
      abandoned = true;
      clearTimeout(spinTimer);
      clearTimeout(handshakeTimer);
      // CLOSING: the one state in which the client's own code never reconnects or sends.
      manager.state = STATES.CLOSING;
      manager.socket?.destroy();
    },
  };
}
