/**
 * Review 16c: replies are checked to add up to their frame exactly (expectEnd), watch notifications are
 * not. handleReply (lib/zookeeper/connection-manager.patch.ts, case XID.NOTIFICATION) deserializes the
 * WatcherEvent and emits it whatever its lengths say, and jute cuts a string that runs past the frame
 * short instead of failing. So a notification for `/locks/s/acct-10` whose frame ends one byte early is
 * delivered as a deletion of `/locks/s/acct-1`: the watch on acct-1 fires although nothing happened to
 * it (a holder told its lock is gone, a waiter woken), and the notification that was really sent is gone.
 * README: a reply "whose declared lengths do not add up to its frame exactly ... is corrupt: the
 * connection drops"; watches are re-registered on the next connection.
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
const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};
const EXISTS = 3;
const NODE_DELETED = 2;
const SYNC_CONNECTED = 3;

describe('review16c: a watch notification whose path runs past its frame', () => {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let accepted = 0;
  let zk: ZookeeperService | undefined;

  afterEach(async () => {
    await zk?.close();
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('is corrupt: the connection drops and the watch on the path it was cut to does not fire', async () => {
    // The first exists (the watched node) is answered with a Stat; the second (the probe) is preceded by a
    // deletion notice for /locks/s/acct-10 declaring 16 path bytes and carrying 15: '/locks/s/acct-1'.
    let existsSeen = 0;
    server = net.createServer((socket) => {
      accepted += 1;
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
          if (type === EXISTS) {
            existsSeen += 1;
            if (existsSeen === 2) {
              const path = Buffer.from('/locks/s/acct-1'); // 15 bytes of '/locks/s/acct-10'
              socket.write(frame(Buffer.concat([replyHeader(-1, 0, -1n), int32(NODE_DELETED), int32(SYNC_CONNECTED), int32(16), path])));
            }
            socket.write(frame(Buffer.concat([replyHeader(xid), Buffer.alloc(68)])));
            continue;
          }
          socket.write(frame(replyHeader(xid, -101)));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    zk = new ZookeeperService({
      connectionString: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      sessionTimeout: 4_000,
      operationTimeout: 1_000,
      connectTimeout: 3_000,
      retryDelay: 100,
    });
    expect(await zk.connect()).toBe(true);

    let fired = 0;
    expect(await zk.exists('/locks/s/acct-1', () => (fired += 1))).not.toBeNull();
    const probe = await zk.exists('/locks/s/probe').then(
      () => 'answered',
      (error) => (error as { code?: string }).code,
    );
    console.log(`probe: ${probe}; watch on /locks/s/acct-1 fired ${fired} time(s); connections: ${accepted}`);
    expect({ probe, fired }).toEqual({ probe: 'CONNECTION_LOSS', fired: 0 });
  });
});
