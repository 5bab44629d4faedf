/**
 * Review 16c: a member that answers every handshake as expired (timeOut <= 0: a hostile member, or a
 * broken proxy in front of the ensemble) makes ZookeeperService open a new session at once, every time,
 * with no delay: `replaceSession` -> `openSession` builds a new client whose first attempt goes out on the
 * next tick (serverAttempts starts at 0, so `retryDelay`, the spin delay, never applies). Each turn is a
 * TCP connection to the server, an `expired` error log line ("session 0xundefined expired: its locks are
 * gone") and two state$ events, about 1,500 times a second here, for as long as the member does it.
 * Every other unusable answer (bytes that are not ZooKeeper's, a refused or silent member) is retried
 * at most once per member per `retryDelay` round.
 */
import net from 'node:net';
import { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';

describe('review16c: every handshake answered as expired', () => {
  let server: net.Server;
  let accepted = 0;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    server = net.createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.once('data', () => {
        // ConnectResponse: protocolVersion 0, timeOut 0 (the session is expired), session id, 16-byte password.
        const answer = Buffer.alloc(40);
        answer.writeInt32BE(36, 0);
        answer.writeInt32BE(0, 4);
        answer.writeInt32BE(0, 8);
        answer.writeBigInt64BE(0x99n, 12);
        answer.writeInt32BE(16, 20);
        socket.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('paces its attempts by retryDelay (1 s here): a handful of connections in 1.5 s, not thousands', async () => {
    const zk = new ZookeeperService({
      connectionString: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      sessionTimeout: 4_000,
      operationTimeout: 1_000,
      connectTimeout: 500,
      retryDelay: 1_000,
    });
    const states: ZookeeperStateEvent[] = [];
    const subscription = zk.state$.subscribe((event) => states.push(event));
    try {
      await zk.connect(); // gives up after connectTimeout
      const before = accepted;
      const expiredBefore = states.filter((e) => e.state === 'expired').length;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const connections = accepted - before;
      const expired = states.filter((e) => e.state === 'expired').length - expiredBefore;
      console.log(`in 1.5 s: ${connections} connections, ${expired} 'expired' events (session ids: ${[...new Set(states.filter((e) => e.state === 'expired').map((e) => String(e.sessionId)))].slice(0, 3).join(', ')})`);
      expect(connections).toBeLessThanOrEqual(10);
    } finally {
      subscription.unsubscribe();
      await zk.close();
    }
  });
});
