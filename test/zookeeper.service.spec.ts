import { ZookeeperError } from '../lib/zookeeper/zookeeper.error';
import {
  cleanup,
  expireSession,
  newService,
  sharedConnectString,
  startServer,
  uniqueNamespace,
  waitForState,
} from './support/zookeeper';

afterEach(cleanup);

describe('ZookeeperService against a real server', () => {
  it('creates, reads, lists and removes nodes, and reports ZooKeeper codes by name', async () => {
    const zk = await newService();
    const root = uniqueNamespace('ops');
    await zk.mkdirp(`${root}/a/b`);
    await zk.mkdirp(`${root}/a/b`); // an existing node counts as success

    const created = await zk.create(`${root}/a/b/e`, { data: Buffer.from('hello'), mode: 'ephemeral' });
    expect(created).toEqual({ path: `${root}/a/b/e`, sessionId: zk.sessionId });
    const { data, stat } = await zk.getData(created.path);
    expect(data.toString()).toBe('hello');
    expect(stat.ephemeralOwner).toBe(zk.sessionId);
    expect(stat.czxid).toBeGreaterThan(0n);
    expect(await zk.getChildren(`${root}/a/b`)).toEqual(['e']);

    const sequential = await zk.create(`${root}/a/b/s-`, { mode: 'persistent-sequential' });
    expect(sequential.path).toMatch(new RegExp(`^${root}/a/b/s-\\d{10}$`));
    expect((await zk.exists(sequential.path))?.ephemeralOwner).toBeUndefined();

    await expect(zk.create(created.path)).rejects.toMatchObject({ code: 'NODE_EXISTS', path: created.path });
    await expect(zk.remove(`${root}/a`)).rejects.toMatchObject({ code: 'NOT_EMPTY' });
    await expect(zk.getData(`${root}/missing`)).rejects.toMatchObject({ code: 'NO_NODE' });
    expect(await zk.exists(`${root}/missing`)).toBeNull();
    await expect(zk.create('no-leading-slash')).rejects.toMatchObject({ code: 'BAD_ARGUMENTS' });

    await zk.remove(created.path);
    expect(await zk.exists(created.path)).toBeNull();
  });

  it('runs a multi atomically and names the operation that failed', async () => {
    const zk = await newService();
    const root = uniqueNamespace('multi');
    await zk.mkdirp(root);
    await zk.create(`${root}/taken`);

    const failure = await zk
      .multi([
        { op: 'create', path: `${root}/x`, mode: 'ephemeral' },
        { op: 'create', path: `${root}/taken`, mode: 'ephemeral' },
      ])
      .catch((e) => e);
    expect(failure).toBeInstanceOf(ZookeeperError);
    expect(failure).toMatchObject({ code: 'NODE_EXISTS', opIndex: 1, path: `${root}/taken` });
    expect(await zk.exists(`${root}/x`)).toBeNull(); // nothing applied

    const results = await zk.multi([
      { op: 'create', path: `${root}/x`, mode: 'ephemeral' },
      { op: 'create', path: `${root}/y`, mode: 'ephemeral' },
    ]);
    expect(results).toEqual([
      { op: 'create', path: `${root}/x` },
      { op: 'create', path: `${root}/y` },
    ]);
    await zk.multi([
      { op: 'remove', path: `${root}/x` },
      { op: 'remove', path: `${root}/y` },
    ]);
    expect(await zk.getChildren(root)).toEqual(['taken']);
  });

  it('fires a data watch once when the watched node goes away', async () => {
    const zk = await newService();
    const other = await newService();
    const root = uniqueNamespace('watch');
    await zk.mkdirp(root);
    await other.create(`${root}/n`, { mode: 'ephemeral' });
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    await zk.getData(`${root}/n`, () => fire());
    await other.remove(`${root}/n`);
    await fired;
  });

  it('keeps the session and its ephemeral nodes when the server restarts within the session timeout', async () => {
    const server = await startServer();
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 8_000 });
    const session = zk.sessionId;
    await zk.create('/kept', { mode: 'ephemeral' });

    const suspended = waitForState(zk, 'suspended');
    await server.stop();
    await suspended;
    await server.start();
    await waitForState(zk, 'connected');

    expect(zk.sessionId).toBe(session);
    expect((await zk.exists('/kept'))?.ephemeralOwner).toBe(session);
  });

  it('reports the session lost when the server stays down past the session timeout, then opens a new one', async () => {
    const server = await startServer();
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 2_000 });
    const first = zk.sessionId;
    const states: string[] = [];
    zk.state$.subscribe((e) => states.push(e.state));

    const lost = waitForState(zk, 'lost');
    await server.kill();
    const event = await lost;
    expect(event.sessionId).toBe(first);
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    await server.start();
    await waitForState(zk, 'connected');
    expect(zk.sessionId).toBeDefined();
    expect(zk.sessionId).not.toBe(first);
    // 'unavailable' may come between: the restarted server took longer than a session timeout to answer
    // a handshake (a JVM start on a loaded machine).
    expect(states.filter((state) => state !== 'unavailable')).toEqual(['connected', 'suspended', 'lost', 'connecting', 'connected']);
    expect(states.slice(0, 4)).toEqual(['connected', 'suspended', 'lost', 'connecting']);
  });

  it('reports "expired" when the server ended the session, and builds a new session', async () => {
    const zk = await newService();
    const first = zk.sessionId;
    const root = uniqueNamespace('expire');
    await zk.mkdirp(root);
    await zk.create(`${root}/eph`, { mode: 'ephemeral' });

    const expired = waitForState(zk, 'expired');
    await expireSession(sharedConnectString(), zk);
    expect((await expired).sessionId).toBe(first);
    await waitForState(zk, 'connected');
    expect(zk.sessionId).not.toBe(first);
    expect(await zk.exists(`${root}/eph`)).toBeNull(); // the old session's node went with it
  });

  it('fails operations within the operation timeout when the server goes silent (SIGSTOP)', async () => {
    const server = await startServer();
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 10_000, operationTimeout: 800 });
    server.pause();
    try {
      const started = Date.now();
      const error = await zk.exists('/').catch((e) => e);
      expect(error).toBeInstanceOf(ZookeeperError);
      expect(error.code).toBe('OPERATION_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(800 + 1_000);
    } finally {
      server.resume();
    }
    await waitForState(zk, 'connected');
    expect(await zk.exists('/')).not.toBeNull();
  });

  it('drops a silent connection and declares the session lost after the session timeout', async () => {
    const server = await startServer();
    const zk = await newService({ connectionString: server.connectString, sessionTimeout: 2_000, operationTimeout: 500 });
    const first = zk.sessionId;
    const lost = waitForState(zk, 'lost', 10_000);
    server.pause();
    try {
      expect((await lost).sessionId).toBe(first);
    } finally {
      server.resume();
    }
    await waitForState(zk, 'connected');
    expect(zk.sessionId).not.toBe(first);
  });

  it('starts without a server, fails fast as UNAVAILABLE, and connects once the server is there', async () => {
    const server = await startServer();
    await server.stop();
    const zk = await newService(
      { connectionString: server.connectString, connectTimeout: 300 },
      { connect: false },
    );
    expect(await zk.connect()).toBe(false);
    const started = Date.now();
    await expect(zk.create('/x')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(200);

    await server.start();
    await waitForState(zk, 'connected');
    await zk.create('/x', { mode: 'ephemeral' });
  });

  it('closes the session on close(): its ephemeral nodes vanish at once for other clients', async () => {
    const zk = await newService({ sessionTimeout: 30_000 });
    const observer = await newService();
    const root = uniqueNamespace('close');
    await zk.mkdirp(root);
    await zk.create(`${root}/e`, { mode: 'ephemeral' });
    await zk.close();
    expect(zk.state).toBe('closed');
    expect(await observer.exists(`${root}/e`)).toBeNull();
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('applies auth on every (re)connect and protects nodes with the creator ACL', async () => {
    const server = await startServer();
    const root = uniqueNamespace('acl');
    const owner = await newService({ connectionString: server.connectString, auth: 'alice:secret', acl: 'creator', sessionTimeout: 8_000 });
    const stranger = await newService({ connectionString: server.connectString });
    await owner.mkdirp(root);
    await owner.create(`${root}/held`, { mode: 'ephemeral', data: Buffer.from('token') });
    await expect(stranger.getData(`${root}/held`)).rejects.toMatchObject({ code: 'NO_AUTH' });
    await expect(stranger.remove(`${root}/held`)).rejects.toMatchObject({ code: 'NO_AUTH' });
    await expect(stranger.create(`${root}/other`)).rejects.toMatchObject({ code: 'NO_AUTH' });

    // after a reconnection (server restarted within the session) the credentials are sent again
    const suspended = waitForState(owner, 'suspended');
    await server.stop();
    await suspended;
    await server.start();
    await waitForState(owner, 'connected');
    expect((await owner.getData(`${root}/held`)).data.toString()).toBe('token');
    await owner.remove(`${root}/held`);
  });
});
