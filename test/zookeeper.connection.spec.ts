/**
 * The connection layer under network faults, through a TCP proxy in front of real servers: replies cut
 * mid-way, members that answer with foreign bytes, a handshake answered under another session id.
 * Each test failed on the client's own socket handling (a reply buffer shared by all connections, a
 * handshake believed whatever it said, parse errors thrown from the socket handler).
 */
import { randomBytes } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';
import { startProxy, TcpProxy } from './support/tcp-proxy';
import { cleanup, newService, sharedConnectString, startEnsemble, uniqueNamespace, waitForState } from './support/zookeeper';

const proxies: TcpProxy[] = [];
const subscriptions: Subscription[] = [];
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);

beforeAll(() => process.on('uncaughtException', onUncaught));
afterAll(() => process.off('uncaughtException', onUncaught));
afterEach(async () => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  await cleanup();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

function portOf(connectString: string): number {
  return Number(connectString.split(',')[0].split(':')[1]);
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startProxy(port);
  proxies.push(proxy);
  return proxy;
}

/** Every state event from now on (the current one first). */
function record(zk: ZookeeperService): ZookeeperStateEvent[] {
  const events: ZookeeperStateEvent[] = [];
  subscriptions.push(zk.state$.subscribe((e) => events.push(e)));
  return events;
}

const HTTP_400 = Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n');

describe('a connection cut in the middle of a reply', () => {
  it('reconnects and resumes the SAME session after a 20 kB reply is cut after 500 bytes', async () => {
    const proxy = await proxyTo(portOf(sharedConnectString()));
    const zk = await newService({ connectionString: proxy.connectString });
    const root = uniqueNamespace('cut-20k');
    await zk.mkdirp(root);
    const mine = await zk.create(`${root}/mine`, { mode: 'ephemeral' });
    const big = randomBytes(20_000);
    await zk.create(`${root}/big`, { data: big });
    const sessionId = zk.sessionId;
    const events = record(zk);

    const cut = proxy.cutReplyAfter(500);
    await expect(zk.getData(`${root}/big`)).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
    await cut;
    expect(await zk.waitForConnection(15_000)).toBe(true);

    expect(zk.sessionId).toBe(sessionId);
    expect(events.filter((e) => e.state === 'expired' || e.state === 'lost')).toEqual([]);
    expect(events.filter((e) => e.state === 'connected').every((e) => e.sessionId === sessionId)).toBe(true);
    expect((await zk.exists(mine.path))?.ephemeralOwner).toBe(sessionId);
    expect((await zk.getData(`${root}/big`)).data.equals(big)).toBe(true);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
  });

  it('reports no false "expired" when an 88-byte reply is cut right after its header', async () => {
    const proxy = await proxyTo(portOf(sharedConnectString()));
    const zk = await newService({ connectionString: proxy.connectString });
    const root = uniqueNamespace('cut-88');
    await zk.mkdirp(root);
    const mine = await zk.create(`${root}/mine`, { mode: 'ephemeral' });
    const sessionId = zk.sessionId;
    const events = record(zk);

    // An exists answer is 88 bytes: length (4), reply header (16), Stat (68). Let 20 through.
    const cut = proxy.cutReplyAfter(20);
    await expect(zk.exists(mine.path)).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
    await cut;
    expect(await zk.waitForConnection(15_000)).toBe(true);

    expect(zk.sessionId).toBe(sessionId);
    expect(events.filter((e) => e.state === 'expired' || e.state === 'lost')).toEqual([]);
    expect((await zk.exists(mine.path))?.ephemeralOwner).toBe(sessionId);
  });

  it('on an ensemble (zxid epoch >= 1) never reports "connected" under a session id it did not ask for', async () => {
    const ensemble = await startEnsemble();
    await ensemble.waitQuorum();
    const proxy = await proxyTo(ensemble.members[0].clientPort);
    const zk = await newService({ connectionString: proxy.connectString, sessionTimeout: 6_000 });
    const root = uniqueNamespace('cut-ensemble');
    await zk.mkdirp(root);
    const mine = await zk.create(`${root}/mine`, { mode: 'ephemeral' });
    await zk.create(`${root}/big`, { data: randomBytes(20_000) });
    expect((await zk.exists(mine.path))!.czxid >> 32n).toBeGreaterThanOrEqual(1n); // the epoch
    const sessionId = zk.sessionId;
    const events = record(zk);

    // An 88-byte answer cut after its header, then a 20 kB one cut after 500 bytes.
    const cuts: Array<[number, () => Promise<unknown>]> = [
      [20, () => zk.exists(mine.path)],
      [500, () => zk.getData(`${root}/big`)],
    ];
    for (const [budget, read] of cuts) {
      const cut = proxy.cutReplyAfter(budget);
      await expect(read()).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
      await cut;
      expect(await zk.waitForConnection(20_000)).toBe(true);
    }

    const connected = events.filter((e) => e.state === 'connected');
    expect(connected.length).toBeGreaterThanOrEqual(2);
    expect(connected.map((e) => e.sessionId)).toEqual(connected.map(() => sessionId));
    expect(events.filter((e) => e.state === 'expired' || e.state === 'lost')).toEqual([]);
    expect((await zk.exists(mine.path))?.ephemeralOwner).toBe(sessionId);
  });
});

describe('members that do not speak ZooKeeper', () => {
  it('skips a first member that answers HTTP and closes, connects to the real one, and throws nothing', async () => {
    const http = await proxyTo(portOf(sharedConnectString()));
    http.answerWith(HTTP_400);
    // The service shuffles the members (Fisher-Yates on Math.random); keep the string's order so the
    // foreign member is tried first.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.99);
    let zk: ZookeeperService;
    try {
      zk = await newService({ connectionString: `${http.connectString},${sharedConnectString()}` }, { connect: false });
      const connected = zk.connect();
      random.mockRestore();
      expect(await connected).toBe(true);
    } finally {
      random.mockRestore();
    }
    expect(http.accepted).toBeGreaterThanOrEqual(1);
    const root = uniqueNamespace('http-first');
    await zk.mkdirp(root);
    expect(await zk.exists(root)).not.toBeNull();
    expect(uncaught).toEqual([]);
  });

  it('with only such a member, reports "unavailable" within a session timeout and fails requests fast', async () => {
    const http = await proxyTo(portOf(sharedConnectString()));
    http.answerWith(HTTP_400);
    const zk = await newService({ connectionString: http.connectString, sessionTimeout: 2_000, connectTimeout: 500 }, { connect: false });
    const events = record(zk);
    const started = Date.now();
    expect(await zk.connect()).toBe(false);
    await waitForState(zk, 'unavailable', 10_000);
    // The bound is the requested session timeout (2 s); the upper bound here only catches a hang.
    expect(Date.now() - started).toBeLessThan(8_000);

    const asked = performance.now();
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(performance.now() - asked).toBeLessThan(1_000);
    const attempts = http.accepted;
    expect(attempts).toBeGreaterThanOrEqual(2); // it keeps trying
    expect(events.some((e) => e.state === 'connected')).toBe(false);
    expect(uncaught).toEqual([]);
  });
});

describe('a handshake answered under another session id', () => {
  /** A well-formed ConnectResponse for a session we never asked for. */
  function foreignHandshake(sessionId: Buffer): Buffer {
    const frame = Buffer.alloc(4 + 37);
    frame.writeInt32BE(37, 0);
    frame.writeInt32BE(0, 4); // protocol version
    frame.writeInt32BE(4_000, 8); // timeout
    sessionId.copy(frame, 12);
    frame.writeInt32BE(16, 20);
    randomBytes(16).copy(frame, 24);
    frame.writeUInt8(0, 40); // read-only: no
    return frame;
  }

  it('reports the OLD session expired (its locks lost) and never runs "connected" under the foreign id', async () => {
    const proxy = await proxyTo(portOf(sharedConnectString()));
    const zk = await newService({ connectionString: proxy.connectString });
    const oldId = zk.sessionId as string;
    const foreignId = randomBytes(8);
    const events: ZookeeperStateEvent[] = [];
    subscriptions.push(
      zk.state$.subscribe((e) => {
        events.push(e);
        // Once the old session is declared over, let the new session reach the real server.
        if (e.state === 'expired') proxy.answerWith(undefined);
      }),
    );
    proxy.answerWith(foreignHandshake(foreignId));
    proxy.dropConnections();

    const expired = await waitForState(zk, 'expired', 15_000);
    expect(expired.sessionId).toBe(oldId);
    await waitForState(zk, 'connected', 15_000);
    const connectedIds = events.filter((e) => e.state === 'connected').map((e) => e.sessionId);
    expect(connectedIds).not.toContain(foreignId.toString('hex'));
    expect(zk.sessionId).not.toBe(oldId);
    expect(events.findIndex((e) => e.state === 'expired')).toBeLessThan(events.findIndex((e) => e.state === 'connected' && e.sessionId !== oldId));
  });
});
