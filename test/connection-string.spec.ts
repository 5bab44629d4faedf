/**
 * Connection strings that validate must also work (issue 15 item 5): spaces around commas, bracketed IPv6.
 */
import net from 'node:net';
import { parseConnectionString, resolveOptions } from '../lib/module/zookeeper-lock-options';
import { cleanup, newService, sharedConnectString } from './support/zookeeper';

/** A loopback port nobody listens on (a member that is down). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Listens on the IPv6 loopback and forwards to the shared server (which listens on 127.0.0.1 only). */
async function ipv6Forwarder(): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  const target = Number(sharedConnectString().split(':').pop());
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    const upstream = net.connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

describe('connection strings', () => {
  afterEach(cleanup);

  it('normalizes what it validates: spaces around commas, default ports, bracketed IPv6, chroot', () => {
    expect(resolveOptions({ connectionString: ' a:1 , b ,[::1]:3/x ' }).connectionString).toBe('a:1,b:2181,[::1]:3/x');
    expect(parseConnectionString('zk1:2181, [::1]:2182/app').servers).toEqual([
      { host: 'zk1', port: 2181 },
      { host: '::1', port: 2182 },
    ]);
  });

  it('fails over past a member that is down when a space follows the comma', async () => {
    const dead = await closedPort();
    const live = sharedConnectString();
    const zk = await newService({ connectionString: `127.0.0.1:${dead}, ${live}`, connectTimeout: 10_000 });
    expect(zk.state).toBe('connected');
    expect(await zk.exists('/')).not.toBeNull();
  });

  it('connects to a bracketed IPv6 member', async () => {
    const forwarder = await ipv6Forwarder();
    try {
      const dead = await closedPort();
      const zk = await newService({ connectionString: `127.0.0.1:${dead},[::1]:${forwarder.port}`, connectTimeout: 10_000 });
      expect(zk.state).toBe('connected');
      expect(await zk.exists('/')).not.toBeNull();
      expect(forwarder.accepted()).toBeGreaterThan(0);
      await zk.close();
    } finally {
      await forwarder.close();
    }
  });
});
