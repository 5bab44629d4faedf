/**
 * CONTAINER create mode and version-exact multi ops, against the real server (the harness runs it with
 * -Dznode.container.checkIntervalMs=1000, so an emptied container goes within about a second).
 */
import { ZookeeperError } from '../lib/zookeeper/zookeeper.error';
import { cleanup, newService, uniqueNamespace, waitForState } from './support/zookeeper';

afterEach(cleanup);

/** Resolves once `path` is gone (an exists-watch per look; no polling). */
async function waitForDeletion(zk: Awaited<ReturnType<typeof newService>>, path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    if ((await zk.exists(path, () => changed())) === null) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${path} still exists after ${timeoutMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([change, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

describe('container nodes', () => {
  it('creates a container that the server deletes once its last child is gone', async () => {
    const zk = await newService();
    const root = uniqueNamespace('container');
    await zk.mkdirp(root);
    const created = await zk.create(`${root}/box`, { mode: 'container', data: Buffer.from('x') });
    expect(created).toEqual({ path: `${root}/box`, sessionId: zk.sessionId });
    const stat = await zk.exists(created.path);
    expect(stat).not.toBeNull();
    expect(stat?.ephemeralOwner).toBeUndefined();
    expect((await zk.getData(created.path)).data.toString()).toBe('x');
    await expect(zk.create(created.path, { mode: 'container' })).rejects.toMatchObject({ code: 'NODE_EXISTS' });

    const child = await zk.create(`${created.path}/child`, { mode: 'ephemeral' });
    await zk.remove(child.path);
    await waitForDeletion(zk, created.path);
    // A plain persistent sibling is never reaped: the deletion above is the container's doing.
    await zk.create(`${root}/plain`);
    await zk.create(`${root}/plain/c`);
    await zk.remove(`${root}/plain/c`);
    await zk.create(`${root}/box2`, { mode: 'container' });
    await zk.create(`${root}/box2/c`);
    await zk.remove(`${root}/box2/c`);
    await waitForDeletion(zk, `${root}/box2`);
    expect(await zk.exists(`${root}/plain`)).not.toBeNull();
  });

  it('keeps working on the same connection after container creates (the answer is decoded, not a reason to drop)', async () => {
    const zk = await newService();
    const root = uniqueNamespace('container-conn');
    await zk.mkdirp(root);
    const socket = (zk as any).session.client.connectionManager.socket;
    for (let i = 0; i < 5; i++) await zk.create(`${root}/c${i}`, { mode: 'container' });
    expect(await zk.getChildren(root)).toHaveLength(5);
    expect((zk as any).session.client.connectionManager.socket).toBe(socket);
    expect(zk.state).toBe('connected');
  });

  it('surfaces a server that does not implement createContainer as ZookeeperError UNIMPLEMENTED', async () => {
    const zk = await newService();
    const root = uniqueNamespace('container-old');
    await zk.mkdirp(root);
    // Stand in for a pre-3.5 server: the real server answers UNIMPLEMENTED to an op code it does not
    // know, so the container request leaves with such a code (only this one request is changed).
    const manager = (zk as any).session.client.connectionManager;
    const queue = manager.queue;
    manager.queue = function (request: { header?: { type: number } }, callback: unknown) {
      if (request.header?.type === 19) {
        request.header.type = 9_999;
        manager.queue = queue;
      }
      return queue.call(this, request, callback);
    };
    // The server also closes the connection after an UNIMPLEMENTED answer; the session survives that.
    const suspended = waitForState(zk, 'suspended');
    const failure = await zk.create(`${root}/box`, { mode: 'container' }).catch((e) => e);
    expect(failure).toBeInstanceOf(ZookeeperError);
    expect(failure.code).toBe('UNIMPLEMENTED');
    const sessionId = zk.sessionId;
    await suspended;
    expect(await zk.waitForConnection(10_000)).toBe(true);
    expect(zk.sessionId).toBe(sessionId);
    expect(await zk.exists(`${root}/box`)).toBeNull();
  });
});

describe('multi with version 0', () => {
  it('check(path, 0) fails with BAD_VERSION on a node at version 1, and passes at version 0', async () => {
    const zk = await newService();
    const root = uniqueNamespace('multi-v0');
    await zk.mkdirp(root);
    await zk.create(`${root}/n`);
    await expect(zk.multi([{ op: 'check', path: `${root}/n`, version: 0 }, { op: 'create', path: `${root}/a` }])).resolves.toHaveLength(2);

    // Bump the node to version 1 (a check-and-remove-and-recreate would reset it; setData is not exposed).
    await zk.remove(`${root}/a`);
    const raw = (zk as any).session.client;
    await new Promise<void>((resolve, reject) => raw.setData(`${root}/n`, Buffer.from('v1'), -1, (e: Error | null) => (e ? reject(e) : resolve())));
    expect((await zk.exists(`${root}/n`))?.version).toBe(1);

    const failure = await zk
      .multi([
        { op: 'check', path: `${root}/n`, version: 0 },
        { op: 'create', path: `${root}/b` },
      ])
      .catch((e) => e);
    expect(failure).toBeInstanceOf(ZookeeperError);
    expect(failure).toMatchObject({ code: 'BAD_VERSION', opIndex: 0 });
    expect(await zk.exists(`${root}/b`)).toBeNull();
  });

  it('remove(path, 0) fails with BAD_VERSION on a node at version 1 and leaves it', async () => {
    const zk = await newService();
    const root = uniqueNamespace('multi-rm0');
    await zk.mkdirp(root);
    await zk.create(`${root}/n`);
    const raw = (zk as any).session.client;
    await new Promise<void>((resolve, reject) => raw.setData(`${root}/n`, Buffer.from('v1'), -1, (e: Error | null) => (e ? reject(e) : resolve())));
    await expect(zk.multi([{ op: 'remove', path: `${root}/n`, version: 0 }])).rejects.toMatchObject({ code: 'BAD_VERSION' });
    expect(await zk.exists(`${root}/n`)).not.toBeNull();
    await zk.multi([{ op: 'remove', path: `${root}/n`, version: 1 }]);
    expect(await zk.exists(`${root}/n`)).toBeNull();
  });
});
