/**
 * Review 16c: decodePayload (lib/zookeeper/connection-manager.patch.ts, `case OP.DELETE / SET_WATCHES /
 * CLOSE_SESSION: return null`) returns before expectEnd, so the answers without a body are never checked
 * to end where their frame ends: a delete answered with bytes after its header resolves as a success.
 * Every other answer with trailing bytes is refused as corrupt (README, Sessions › No crash from network
 * input: "A reply whose declared lengths do not add up to its frame exactly (a path cut short, trailing
 * bytes, ...) is corrupt: the connection drops and the caller gets CONNECTION_LOSS"; the create case is
 * zookeeper.malformed-replies.spec.ts). Two replies run together into one frame (a delete's, then the
 * next request's) are taken as one good delete answer.
 */
import net from 'node:net';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

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
function multiHeader(type: number, done: boolean, err = -1): Buffer {
  const b = Buffer.alloc(9);
  b.writeInt32BE(type, 0);
  b.writeUInt8(done ? 1 : 0, 4);
  b.writeInt32BE(err, 5);
  return b;
}
const ustring = (s: string) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(Buffer.byteLength(s), 0);
  return Buffer.concat([b, Buffer.from(s)]);
};
const DELETE = 2;

async function fakeServer(answer: (xid: number, type: number) => Buffer | undefined): Promise<{ port: number; close(): Promise<void> }> {
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
        socket.write(frame(answer(xid, type) ?? replyHeader(xid, -101)));
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
  const zk = new ZookeeperService({ connectionString: `127.0.0.1:${port}`, sessionTimeout: 4_000, operationTimeout: 2_000, connectTimeout: 3_000, retryDelay: 100 });
  closers.unshift(() => zk.close());
  expect(await zk.connect()).toBe(true);
  return zk;
}

describe('review16c: a delete answer with bytes after its header', () => {
  it('is corrupt (CONNECTION_LOSS), like any other answer with trailing bytes', async () => {
    // The delete's header, then what looks like a whole second reply (length prefix and header) in the same frame.
    const server = await fakeServer((xid, type) =>
      type === DELETE ? Buffer.concat([replyHeader(xid), frame(replyHeader(xid + 1))]) : undefined,
    );
    closers.push(server.close);
    const zk = await serviceOn(server.port);
    const outcome = await zk.remove('/locks/s/acct-1', 0).then(
      () => 'resolved',
      (error) => (error as { code?: string }).code,
    );
    expect(outcome).toBe('CONNECTION_LOSS');
  });
});
