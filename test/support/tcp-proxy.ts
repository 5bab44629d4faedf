/**
 * A TCP proxy between a client and one ZooKeeper server, for faults the network makes and no mock can:
 * a black hole (sockets stay open, nothing passes), a connection cut in the middle of a reply, bytes that
 * are not ZooKeeper's, a refused member. Every connection through it can be steered while it is open.
 *
 *   const proxy = await startProxy(server.clientPort);   // then connect to proxy.connectString
 *   proxy.blackhole();          // from now on nothing is forwarded, in either direction
 *   proxy.restore();            // forward again (bytes held back meanwhile are dropped, as a network would)
 *   proxy.cutReplyAfter(500);   // forward 500 more server bytes, then close both sides at once
 *   proxy.answerWith(bytes);    // new connections get `bytes` from "the server", then are closed
 *   const wire = proxy.capture(); ... wire()  // every byte seen in either direction since capture()
 *   await proxy.close();
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly connectString: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Bytes the server sent through the proxy so far (forwarded or not). */
  readonly serverBytes: number;
  blackhole(): void;
  restore(): void;
  /** Lets `bytes` more server-to-client bytes through on the open connections, then destroys them. */
  cutReplyAfter(bytes: number): Promise<void>;
  /** New connections are answered with `bytes` and closed, without reaching the server (undefined: normal). */
  answerWith(bytes: Buffer | undefined): void;
  /** Starts recording the bytes of both directions; the function returns them all so far. */
  capture(): () => Buffer;
  /** Destroys every open connection (the client sees a reset). */
  dropConnections(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server?: net.Socket;
  /** Server bytes still allowed through before the cut; undefined: no cut armed. */
  budget?: number;
  onCut?: () => void;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let holes = false;
  let canned: Buffer | undefined;
  let accepted = 0;
  let serverBytes = 0;
  let recorded: Buffer[] | undefined;
  // Every socket of the proxy, until it has closed: close() waits for them, so a test that checks for
  // leaked sockets after it sees none of the proxy's own.
  const closing = new Set<Promise<void>>();
  const track = (socket: net.Socket) => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    closing.add(closed);
    void closed.then(() => closing.delete(closed));
  };

  const destroy = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.server?.destroy();
    pair.onCut?.();
  };

  const listener = net.createServer((client) => {
    accepted += 1;
    track(client);
    client.on('error', () => undefined);
    if (canned) {
      client.resume(); // read and discard what the client sends, so its close is seen and the proxy can close
      client.end(canned);
      return;
    }
    const pair: Pair = { client };
    pairs.add(pair);
    const server = net.connect(targetPort, targetHost);
    track(server);
    pair.server = server;
    server.on('error', () => destroy(pair));
    server.on('close', () => destroy(pair));
    client.on('close', () => destroy(pair));
    client.on('data', (chunk) => {
      recorded?.push(chunk);
      if (!holes) server.write(chunk);
    });
    server.on('data', (chunk) => {
      serverBytes += chunk.length;
      recorded?.push(chunk);
      if (holes) return;
      if (pair.budget === undefined) {
        client.write(chunk);
        return;
      }
      const part = chunk.subarray(0, pair.budget);
      pair.budget -= part.length;
      if (part.length > 0) client.write(part);
      if (pair.budget === 0) {
        // Flush what was let through, then reset both sides.
        client.end(() => destroy(pair));
        server.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;

  return {
    port,
    connectString: `127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get serverBytes() {
      return serverBytes;
    },
    blackhole: () => void (holes = true),
    restore: () => void (holes = false),
    cutReplyAfter(bytes) {
      const open = [...pairs];
      return Promise.all(
        open.map(
          (pair) =>
            new Promise<void>((resolve) => {
              pair.budget = bytes;
              pair.onCut = resolve;
            }),
        ),
      ).then(() => undefined);
    },
    answerWith: (bytes) => void (canned = bytes),
    capture() {
      const chunks: Buffer[] = (recorded = []);
      return () => Buffer.concat(chunks);
    },
    dropConnections: () => [...pairs].forEach(destroy),
    close: async () => {
      [...pairs].forEach(destroy);
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await Promise.all([...closing]);
    },
  };
}
