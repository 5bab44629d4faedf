/**
 * Review 16c: a reply that the connection layer refuses as corrupt still advances the session's
 * last-seen zxid. handleReply (lib/zookeeper/connection-manager.patch.ts) adopts `header.zxid` as soon as
 * the xid matches, BEFORE decodePayload/expectEnd find the reply corrupt and drop the connection. Its
 * zxid field is as untrustworthy as the rest of the frame, but it is sent in every later ConnectRequest
 * (lastZxidSeen) and SetWatches (relativeZxid). A server refuses a session whose client claims to have
 * seen a zxid beyond its own ("Refusing session request ... as it has seen zxid 0x..."), so after one
 * corrupt reply every reconnect is refused, and the session, with every lock of it, is given up as lost.
 *
 * README (Sessions › Broken replies never corrupt the next session): "a connection cut in the middle of a
 * reply resumes the same session, nodes and locks intact"; (No crash from network input) a corrupt reply
 * "drops the connection and the caller gets CONNECTION_LOSS". Here it is CONNECTION_LOSS, then the loss
 * of the session.
 */
import net from 'node:net';
import { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const MARK = Buffer.from('POISON-MARK-16c');

/**
 * Forwards both ways; the first server frame that carries MARK gets its reply header's zxid raised by
 * 2^32 (as a flipped bit would) and one trailing byte (so the client finds it corrupt).
 */
async function tamperingProxy(targetPort: number): Promise<{ connectString: string; tampered: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let tampered = 0;
  const listener = net.createServer((client) => {
    sockets.add(client);
    const server = net.connect(targetPort, '127.0.0.1');
    sockets.add(server);
    const end = () => {
      client.destroy();
      server.destroy();
    };
    for (const s of [client, server]) {
      s.on('error', end);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
    }
    client.on('data', (chunk) => server.write(chunk));
    let buffered = Buffer.alloc(0);
    server.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        let body = Buffer.from(buffered.subarray(4, 4 + size));
        buffered = buffered.subarray(4 + size);
        if (tampered === 0 && body.length > 16 && body.includes(MARK)) {
          tampered += 1;
          body.writeBigInt64BE(body.readBigInt64BE(4) + (1n << 32n), 4);
          body = Buffer.concat([body, Buffer.alloc(1)]);
        }
        const head = Buffer.alloc(4);
        head.writeInt32BE(body.length, 0);
        client.write(Buffer.concat([head, body]));
      }
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    connectString: `127.0.0.1:${(listener.address() as net.AddressInfo).port}`,
    tampered: () => tampered,
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

let proxy: Awaited<ReturnType<typeof tamperingProxy>> | undefined;
afterEach(async () => {
  await cleanup();
  await proxy?.close();
});

describe('review16c: the zxid of a reply refused as corrupt', () => {
  it('is not adopted: after one corrupt reply the session resumes, its ephemeral node intact', async () => {
    proxy = await tamperingProxy(Number(sharedConnectString().split(',')[0].split(':')[1]));
    const zk: ZookeeperService = await newService({ connectionString: proxy.connectString, sessionTimeout: 4_000, operationTimeout: 2_000 });
    const root = uniqueNamespace('r16c-zxid');
    await zk.mkdirp(root);
    const mine = await zk.create(`${root}/mine`, { mode: 'ephemeral' });
    await zk.create(`${root}/marked`, { data: MARK });
    const sessionId = zk.sessionId;
    const events: ZookeeperStateEvent[] = [];
    const subscription = zk.state$.subscribe((e) => events.push(e));
    try {
      await expect(zk.getData(`${root}/marked`)).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
      expect(proxy.tampered()).toBe(1);

      // A resume takes one round trip; give it a whole session timeout and a half.
      const reconnected = await zk.waitForConnection(6_000);
      const ended = events.filter((e) => e.state === 'lost' || e.state === 'expired');
      console.log(
        `after the corrupt reply: reconnected=${reconnected}, session ${zk.sessionId ?? '-'} (was ${sessionId}), ` +
          `events: ${events.map((e) => e.state).join(' > ')}`,
      );
      expect({ ended: ended.map((e) => e.state), sameSession: zk.sessionId === sessionId }).toEqual({ ended: [], sameSession: true });
      expect((await zk.exists(mine.path))?.ephemeralOwner).toBe(sessionId);
    } finally {
      subscription.unsubscribe();
    }
  }, 30_000);
});
