/**
 * A scripted ZooKeeper server: a real socket that answers our handshake, pings, and then whatever bytes a
 * test scripts for each request. For the decoder's behaviour against replies no real server sends
 * (corrupt lengths, wrong xids, MULTI answers that do not match their ops); no ZooKeeper semantics are
 * claimed with it. Every server and service a test opens here is closed by `closeScripted()` (afterEach).
 */
import net from 'node:net';
import { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';

/** The reply to one request (xid, op type), or undefined for the default NO_NODE. */
export type Answer = (xid: number, type: number) => Buffer | undefined;

export function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

export function replyHeader(xid: number, err = 0, zxid = 5n): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32BE(xid, 0);
  b.writeBigInt64BE(zxid, 4);
  b.writeInt32BE(err, 12);
  return b;
}

export function multiHeader(type: number, done: boolean, err = -1): Buffer {
  const b = Buffer.alloc(9);
  b.writeInt32BE(type, 0);
  b.writeUInt8(done ? 1 : 0, 4);
  b.writeInt32BE(err, 5);
  return b;
}

export const int32 = (value: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};

export const ustring = (s: string): Buffer => Buffer.concat([int32(Buffer.byteLength(s)), Buffer.from(s)]);

const closers: Array<() => Promise<void>> = [];

/** Closes every scripted server and service opened since the last call (call it in afterEach). */
export async function closeScripted(): Promise<void> {
  for (const close of closers.splice(0)) await close();
}

export async function fakeServer(answer: Answer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    let handshaken = false;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const body = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        if (!handshaken) {
          handshaken = true;
          const hs = Buffer.alloc(36);
          hs.writeInt32BE(0, 0);
          hs.writeInt32BE(4000, 4);
          hs.writeBigInt64BE(0x1234n, 8);
          hs.writeInt32BE(16, 16);
          socket.write(frame(hs));
          continue;
        }
        const xid = body.readInt32BE(0);
        const type = body.readInt32BE(4);
        if (xid === -2) {
          socket.write(frame(replyHeader(-2)));
          continue;
        }
        socket.write(frame(answer(xid, type) ?? replyHeader(xid, -101))); // default: NO_NODE
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => resolve());
    });
  closers.push(close);
  return { port: (server.address() as net.AddressInfo).port, close };
}

/** A service connected to the scripted server on `port` (closed before the servers). */
export async function serviceOn(port: number, operationTimeout = 1_000): Promise<ZookeeperService> {
  const zk = new ZookeeperService({ connectionString: `127.0.0.1:${port}`, sessionTimeout: 4_000, operationTimeout, connectTimeout: 3_000, retryDelay: 100 });
  closers.unshift(() => zk.close());
  expect(await zk.connect()).toBe(true);
  return zk;
}
