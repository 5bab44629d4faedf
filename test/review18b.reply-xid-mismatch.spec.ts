/**
 * Review 18b (mutation testing): "No crash from network input ... never a made-up or cut-short value".
 * A well-formed reply whose xid is not the one of the request it would answer (a broken proxy, a server
 * bug) must not be taken as that request's answer: the connection drops (CONNECTION_LOSS) and the next
 * request is answered. zookeeper.malformed-replies covers lengths only; with the xid check gone there, the
 * create below resolved with a path the server never gave for it.
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

it('refuses a reply whose xid is not the request\'s as CONNECTION_LOSS, and answers the next request', async () => {
  let wrong = true;
  const server = await fakeServer((xid, type) => {
    if (type !== CREATE) return undefined;
    const answerXid = wrong ? xid + 1_000 : xid; // the first create is "answered" under another xid
    const path = wrong ? '/not-yours' : '/good';
    wrong = false;
    return Buffer.concat([replyHeader(answerXid), int32(path.length), Buffer.from(path)]);
  });
  closers.push(server.close);
  const zk = await serviceOn(server.port);
  const first = await zk.create('/lock', { mode: 'ephemeral' }).then(
    (created) => `resolved with ${created.path}`,
    (error: { code?: string }) => error.code,
  );
  expect(first).toBe('CONNECTION_LOSS');
  await expect(zk.create('/lock', { mode: 'ephemeral' })).resolves.toMatchObject({ path: '/good' }); // reconnected
});
