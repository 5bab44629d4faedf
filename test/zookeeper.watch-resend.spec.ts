/**
 * Watch re-registration after a reconnect. node-zookeeper-client sent every watched path in ONE
 * SetWatches packet; over the server's jute.maxbuffer (1 MiB) the server drops the connection, and the
 * client reconnected and sent it again, forever. Watches now go in batches of at most 128 kB, and a
 * connection that keeps dropping right after its handshake is given up as lost within a bound.
 */
import type { Subscription } from 'rxjs';
import type { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';
import { startProxy, TcpProxy } from './support/tcp-proxy';
import { cleanup, newService, sharedConnectString, startServer, uniqueNamespace, waitForState } from './support/zookeeper';

const proxies: TcpProxy[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  await cleanup();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

function record(zk: ZookeeperService): ZookeeperStateEvent[] {
  const events: ZookeeperStateEvent[] = [];
  subscriptions.push(zk.state$.subscribe((e) => events.push(e)));
  return events;
}

function setData(zk: ZookeeperService, path: string, data: string): Promise<void> {
  const raw = (zk as any).session.client;
  return new Promise((resolve, reject) => raw.setData(path, Buffer.from(data), -1, (e: Error | null) => (e ? reject(e) : resolve())));
}

/** Sets a data watch on each path; resolves the returned promise of a path when its watch fires. */
async function watchAll(zk: ZookeeperService, paths: string[]): Promise<Map<string, Promise<void>>> {
  const fired = new Map<string, Promise<void>>();
  await Promise.all(
    paths.map(async (path) => {
      let resolve!: () => void;
      fired.set(path, new Promise<void>((r) => (resolve = r)));
      await zk.getData(path, () => resolve());
    }),
  );
  return fired;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))),
  ]);
}

describe('watch re-registration after a reconnect', () => {
  it('re-registers 220 watches on ~5.5 kB paths (over 1 MiB in all): one reconnect, watches fire, state settles', async () => {
    const proxy = await startProxy(Number(sharedConnectString().split(':')[1]));
    proxies.push(proxy);
    const zk = await newService({ connectionString: proxy.connectString });
    const writer = await newService();
    const root = uniqueNamespace('watch-resend');
    await writer.mkdirp(root);
    const paths = Array.from({ length: 220 }, (_, i) => `${root}/${String(i).padStart(3, '0')}-${'w'.repeat(5_500)}`);
    for (let i = 0; i < paths.length; i += 20) await Promise.all(paths.slice(i, i + 20).map((p) => writer.create(p)));
    const fired = await watchAll(zk, paths);
    const sessionId = zk.sessionId;
    const events = record(zk);
    const acceptedBefore = proxy.accepted;

    proxy.dropConnections();
    await waitForState(zk, 'suspended', 10_000);
    expect(await zk.waitForConnection(15_000)).toBe(true);

    // Watches re-registered on the new connection fire for changes made after it.
    await setData(writer, paths[0], 'a');
    await setData(writer, paths[219], 'b');
    await within(Promise.all([fired.get(paths[0]), fired.get(paths[219])]), 15_000, 'watches did not fire');
    // A round trip after the watches fired: the connection is still the one made after the blip.
    expect((await zk.exists(paths[100]))?.version).toBe(0);

    expect(zk.sessionId).toBe(sessionId);
    expect(zk.state).toBe('connected');
    expect(proxy.accepted - acceptedBefore).toBe(1);
    expect(events.filter((e) => e.state === 'connected')).toHaveLength(1 + 1); // the current one, then the reconnect
    expect(events.filter((e) => e.state === 'suspended')).toHaveLength(1);

    for (let i = 0; i < paths.length; i += 20) await Promise.all(paths.slice(i, i + 20).map((p) => writer.remove(p)));
    await writer.remove(root);
  });

  it('gives a session up as lost when its connection keeps dropping right after each handshake', async () => {
    // A server whose jute.maxbuffer (64 kB) is below our 128 kB SetWatches batches refuses the packet
    // and drops the connection after every handshake: the flapping the 1 MiB limit causes for one packet.
    const server = await startServer({ jvmFlags: ['-Djute.maxbuffer=65536'] } as Parameters<typeof startServer>[0]);
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 3_000 });
    const root = uniqueNamespace('flap');
    await zk.mkdirp(root);
    const paths = Array.from({ length: 40 }, (_, i) => `${root}/${String(i).padStart(2, '0')}-${'f'.repeat(5_000)}`);
    for (const path of paths) await zk.create(path);
    await watchAll(zk, paths);
    const sessionId = zk.sessionId;
    const timeout = zk.sessionTimeout;
    const events = record(zk);

    const dropped = Date.now();
    (zk as any).session.dropConnection();
    const lost = await waitForState(zk, 'lost', 30_000);
    const after = Date.now() - dropped;
    expect(lost.sessionId).toBe(sessionId);
    // The bound is one session timeout without a usable connection; the upper bound only catches a hang.
    expect(after).toBeGreaterThanOrEqual(timeout - 200);
    expect(after).toBeLessThan(4 * timeout);
    // The session flapped meanwhile (connected again and again), and was never declared lost before that.
    expect(events.filter((e) => e.state === 'connected' && e.sessionId === sessionId).length).toBeGreaterThanOrEqual(2);
    // A new session, without the old watches, connects normally.
    await waitForState(zk, 'connected', 15_000);
    expect(zk.sessionId).not.toBe(sessionId);
  });
});
