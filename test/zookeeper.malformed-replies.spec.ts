/**
 * Replies from a scripted server (a real socket, our bytes) whose frame is well formed but whose inner
 * lengths do not add up: jute reads strings only up to the end of the buffer and allocates a declared data
 * length before checking it, so such a reply used to resolve a create with a cut-short path. A reply that
 * is not exactly what it declares is corrupt: the connection is dropped (the caller gets CONNECTION_LOSS)
 * and nothing of it reaches the caller. No ZooKeeper semantics are claimed here, only the decoder's.
 */
import net from 'node:net';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

type Answer = (xid: number, type: number) => Buffer | undefined;

function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

function replyHeader(xid: number, err = 0, zxid = 5n): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32BE(xid, 0);
  b.writeBigInt64BE(zxid, 4);
  b.writeInt32BE(err, 12);
  return b;
}

async function fakeServer(answer: Answer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
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
        const reply = answer(xid, type);
        socket.write(frame(reply ?? replyHeader(xid, -101))); // default: NO_NODE
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serviceOn(port: number): Promise<ZookeeperService> {
  const zk = new ZookeeperService({
    connectionString: `127.0.0.1:${port}`,
    sessionTimeout: 4_000,
    operationTimeout: 1_000,
    connectTimeout: 3_000,
    retryDelay: 100,
  });
  closers.unshift(() => zk.close());
  expect(await zk.connect()).toBe(true);
  return zk;
}


const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};
const CREATE = 1;
const GET_DATA = 4;

describe('a reply whose declared lengths do not match its frame', () => {
  it.each<[string, number, (xid: number) => Buffer]>([
    ['create: path claims 40 bytes, carries 5', CREATE, (xid) => Buffer.concat([replyHeader(xid), int32(40), Buffer.from('/lock')])],
    ['create: 7 bytes trailing the path', CREATE, (xid) => Buffer.concat([replyHeader(xid), int32(5), Buffer.from('/lock'), Buffer.alloc(7)])],
    ['getData: data claims 1,000 bytes, carries 3', GET_DATA, (xid) => Buffer.concat([replyHeader(xid), int32(1_000), Buffer.from('abc'), Buffer.alloc(68)])],
    ['getData: data claims 2^31-1 bytes (a 2 GB allocation)', GET_DATA, (xid) => Buffer.concat([replyHeader(xid), int32(2 ** 31 - 1), Buffer.alloc(68)])],
  ])('%s: is refused as CONNECTION_LOSS, and the next request is answered', async (_, op, reply) => {
    let corrupt = true;
    const server = await fakeServer((xid, type) => {
      if (type !== op) return undefined;
      if (!corrupt) return Buffer.concat([replyHeader(xid), int32(5), Buffer.from('/good'), ...(op === GET_DATA ? [Buffer.alloc(68)] : [])]);
      corrupt = false;
      return reply(xid);
    });
    closers.push(server.close);
    const zk = await serviceOn(server.port);
    const call = () => (op === CREATE ? zk.create('/lock', { mode: 'ephemeral' }) : zk.getData('/x'));
    await expect(call()).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
    await expect(call()).resolves.toBeTruthy(); // reconnected; a well-formed reply is accepted
  });
});
