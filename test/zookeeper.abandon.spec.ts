/**
 * A session we have given up (closed, lost or expired) is never resumed: the old client sends no
 * ConnectRequest after that, whatever it had pending (a reconnect on the next tick, a spin-delay timer, a
 * connect in progress). A resumed session would revalidate it on the server and keep its lock nodes
 * alive for up to another session timeout, after the application was told those locks were gone.
 *
 * A small sniffer in front of the TCP proxy reads the session id of every ConnectRequest, so the old
 * client's connections can be told from the new session's.
 */
import net from 'node:net';
import type { Subscription } from 'rxjs';
import { startProxy, TcpProxy } from './support/tcp-proxy';
import { cleanup, newService, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';

interface Sniffer {
  readonly connectString: string;
  /** Session id (hex) asked for by each ConnectRequest, with when it was seen. */
  readonly requests: Array<{ sessionId: string; at: number }>;
  close(): Promise<void>;
}

async function startSniffer(targetPort: number): Promise<Sniffer> {
  const requests: Sniffer['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let head = Buffer.alloc(0);
    client.on('data', (chunk) => {
      if (head.length < 28) {
        head = Buffer.concat([head, chunk]);
        // length (4), protocolVersion (4), lastZxidSeen (8), timeOut (4), sessionId (8)
        if (head.length >= 28) requests.push({ sessionId: head.subarray(20, 28).toString('hex'), at: Date.now() });
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    connectString: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  await cleanup();
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function chain(): Promise<{ proxy: TcpProxy; sniffer: Sniffer }> {
  const proxy = await startProxy(Number(sharedConnectString().split(':')[1]));
  const sniffer = await startSniffer(proxy.port);
  closers.push(() => sniffer.close(), () => proxy.close());
  return { proxy, sniffer };
}

/**
 * There is no event for "nothing happened": wait a bounded time, several times the longest pending
 * reconnect delay (the client reconnects on the next tick, or after a random part of retryDelay).
 */
const QUIET_MS = 1_500;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The old client's own view: the socket it had when its session was declared lost must be its last.
 * (The sniffer alone cannot date a ConnectRequest sent just before the loss precisely enough.)
 */
function watchOldClient(zk: import('../lib/zookeeper/zookeeper.service').ZookeeperService) {
  const manager = (zk as any).session.client.connectionManager as { socket?: net.Socket };
  let socketAtLost: net.Socket | undefined;
  let seen = false;
  subscriptions.push(
    zk.state$.subscribe((e) => {
      if (e.state === 'lost' && !seen) {
        seen = true;
        socketAtLost = manager.socket;
      }
    }),
  );
  return {
    expectNoSocketSinceLost() {
      expect(seen).toBe(true);
      expect(manager.socket).toBe(socketAtLost);
      expect(socketAtLost?.destroyed ?? true).toBe(true);
    },
  };
}

describe('a given-up session is never resumed', () => {
  it('after close() during a reconnect, the old client opens no connection', async () => {
    const { proxy, sniffer } = await chain();
    const zk = await newService({ connectionString: sniffer.connectString, retryDelay: 200 });
    const sessionId = zk.sessionId as string;
    let closed: Promise<void> | undefined;
    let closedAt = 0;
    subscriptions.push(
      zk.state$.subscribe((e) => {
        // Close at the very moment the connection drops: the client has just scheduled its reconnect.
        if (e.state === 'suspended' && !closed) {
          closedAt = Date.now();
          closed = zk.close();
        }
      }),
    );
    const acceptedBefore = proxy.accepted;
    proxy.dropConnections();
    await waitForState(zk, 'closed', 10_000);
    await closed;
    await pause(QUIET_MS);
    expect(closedAt).toBeGreaterThan(0);
    expect(sniffer.requests.filter((r) => r.sessionId === sessionId && r.at >= closedAt)).toEqual([]);
    expect(proxy.accepted).toBe(acceptedBefore);
  });

  it('after the session is given up as lost, its client never asks for it again, and the server expires it', async () => {
    const { proxy, sniffer } = await chain();
    const zk = await newService({ connectionString: sniffer.connectString, sessionTimeout: 2_000, retryDelay: 100 });
    const watcher = await newService();
    const root = uniqueNamespace('abandon-lost');
    await zk.mkdirp(root);
    const mine = await zk.create(`${root}/mine`, { mode: 'ephemeral' });
    const sessionId = zk.sessionId as string;
    const old = watchOldClient(zk);

    proxy.blackhole();
    const lost = await waitForState(zk, 'lost', 15_000);
    expect(lost.sessionId).toBe(sessionId);
    proxy.restore();
    await waitForState(zk, 'connected', 15_000);
    const connectedAt = Date.now();
    expect(zk.sessionId).not.toBe(sessionId);

    // The server ends the old session on its own (nobody revalidates it): its node goes.
    let gone!: () => void;
    const deleted = new Promise<void>((resolve) => (gone = resolve));
    if (await watcher.exists(mine.path, () => gone())) await deleted;
    expect(await watcher.exists(mine.path)).toBeNull();
    await pause(QUIET_MS);
    old.expectNoSocketSinceLost();
    expect(sniffer.requests.filter((r) => r.sessionId === sessionId && r.at >= connectedAt)).toEqual([]);
  });

  it('after a flapping session is given up as lost, its client never asks for it again', async () => {
    // Lost is declared from inside the client's close handler here, which then goes on to reconnect:
    // exactly the path where a reconnect used to escape after the session was given up.
    const { proxy, sniffer } = await chain();
    const zk = await newService({ connectionString: sniffer.connectString, sessionTimeout: 2_000, retryDelay: 100 });
    const sessionId = zk.sessionId as string;
    const old = watchOldClient(zk);
    // Every new connection gets a handshake answer for our own session and is then closed: a flap.
    const answer = Buffer.alloc(41);
    answer.writeInt32BE(37, 0);
    answer.writeInt32BE(2_000, 8);
    Buffer.from(sessionId, 'hex').copy(answer, 12);
    answer.writeInt32BE(16, 20);
    (zk as any).session.client.getSessionPassword().copy(answer, 24);
    proxy.answerWith(answer);
    proxy.dropConnections();
    const lost = await waitForState(zk, 'lost', 15_000);
    expect(lost.sessionId).toBe(sessionId);
    proxy.answerWith(undefined);
    await waitForState(zk, 'connected', 15_000);
    const connectedAt = Date.now();
    await pause(QUIET_MS);
    old.expectNoSocketSinceLost();
    expect(sniffer.requests.filter((r) => r.sessionId === sessionId && r.at >= connectedAt)).toEqual([]);
  });
});
