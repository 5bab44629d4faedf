/**
 * Review 16c: a MULTI answer is one result per op, in order, of the op's own type (or -1, error). The
 * decoder (multi-request.ts MultiResponse) and ZookeeperService.multi take whatever results come:
 * - an answer with NO results (only the "done" header) resolves a MULTI of two creates as a success,
 *   with `[]`: the caller believes both nodes were created (a lock taken that nobody holds);
 * - an answer whose result is a DELETE where the op was a create resolves with `path: undefined`;
 * - an answer with MORE results than ops throws inside the reply callback (`ops[i]` is undefined): the
 *   exception is swallowed as a "callback threw" log line and the caller waits for operationTimeout,
 *   although the reply came at once.
 * README (Security › The network): corrupt or hostile replies "never resolve a request with a wrong
 * value"; a corrupt reply drops the connection and the caller gets CONNECTION_LOSS.
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
const MULTI = 14;
const CREATE = 1;
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

const twoCreates = [
  { op: 'create' as const, path: '/locks/s/a', mode: 'ephemeral' as const },
  { op: 'create' as const, path: '/locks/s/b', mode: 'ephemeral' as const },
];

async function outcome(zk: ZookeeperService): Promise<unknown> {
  const started = performance.now();
  return zk.multi(twoCreates).then(
    (results) => ({ resolved: results }),
    (error) => ({ rejected: (error as { code?: string }).code, ms: Math.round(performance.now() - started) > 1_000 ? 'late' : 'at once' }),
  );
}

describe('review16c: a MULTI answer whose results do not match its ops', () => {
  it('no results at all (only "done") for two creates: CONNECTION_LOSS, not success with []', async () => {
    const server = await fakeServer((xid, type) => (type === MULTI ? Buffer.concat([replyHeader(xid), multiHeader(-1, true)]) : undefined));
    closers.push(server.close);
    expect(await outcome(await serviceOn(server.port))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });

  it('a DELETE result where a create was asked: CONNECTION_LOSS, not a create at path undefined', async () => {
    const server = await fakeServer((xid, type) =>
      type === MULTI
        ? Buffer.concat([replyHeader(xid), multiHeader(CREATE, false), ustring('/locks/s/a'), multiHeader(DELETE, false), multiHeader(-1, true)])
        : undefined,
    );
    closers.push(server.close);
    expect(await outcome(await serviceOn(server.port))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });

  it('three results for two ops: CONNECTION_LOSS at once, not OPERATION_TIMEOUT after the reply was swallowed', async () => {
    const server = await fakeServer((xid, type) =>
      type === MULTI
        ? Buffer.concat([
            replyHeader(xid),
            multiHeader(CREATE, false),
            ustring('/locks/s/a'),
            multiHeader(CREATE, false),
            ustring('/locks/s/b'),
            multiHeader(CREATE, false),
            ustring('/locks/s/c'),
            multiHeader(-1, true),
          ])
        : undefined,
    );
    closers.push(server.close);
    expect(await outcome(await serviceOn(server.port))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });
});
