import { INestApplication } from '@nestjs/common';
import * as http from 'node:http';
import request from 'supertest';
import { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { joinableHandles, lockScope } from '../lib/lock/lock-scope';
import { AdapterName, calls, createLockedApp, Gates } from './support/locked-app';
import { cleanup, sharedConnectString, startServer, uniqueNamespace, waitForState } from './support/zookeeper';

/** Reads server-sent events until `count` arrived, then leaves (or reads to the end when count is Infinity). */
function readEvents(url: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    const req = http.get(url, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          events.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (events.length >= count) {
            req.destroy(); // the client goes away mid-stream
            resolve(events);
            return;
          }
        }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', (e) => (events.length >= count ? resolve(events) : reject(e)));
  });
}

describe.each<AdapterName>(['express', 'fastify'])('@WithLock over HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let gates: Gates;
  let url: string;
  let namespace: string;

  beforeAll(async () => {
    namespace = uniqueNamespace(`http-${adapter}`);
    ({ app, gates, url } = await createLockedApp(adapter, { connectionString: sharedConnectString(), namespace, sessionTimeout: 6_000 }));
  });
  afterEach(() => gates.openAll());
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  it('answers a concurrent request on the same id with 409 while the first still runs', async () => {
    const gate = gates.close('withdraw:acct-1');
    const first = request(url).post('/accounts/acct-1/withdraw').then((r) => r);
    await gate.entered;
    const second = await request(url).post('/accounts/acct-1/withdraw');
    expect(second.status).toBe(409);
    // Generic (the cause the client never sees is checked in with-lock.answers.e2e.spec.ts).
    expect(second.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'LOCK_CONFLICT',
      message: 'The resource is locked by another request; try again later',
    });
    expect(second.text).not.toContain('acct-1');
    expect(second.text).not.toContain(namespace);
    expect(second.headers['retry-after']).toBe('1');
    gate.open();
    const done = await first;
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ id: 'acct-1', lost: false });
    expect(BigInt(done.body.fencingToken)).toBeGreaterThan(0n);
    // released before the response was sent: the next request gets the lock
    expect((await request(url).post('/accounts/acct-1/withdraw')).status).toBe(201);
  });

  it('lets distinct ids run at the same time', async () => {
    const gate = gates.close('withdraw:acct-2');
    const first = request(url).post('/accounts/acct-2/withdraw').then((r) => r);
    await gate.entered;
    expect((await request(url).post('/accounts/acct-3/withdraw')).status).toBe(201);
    gate.open();
    expect((await first).status).toBe(201);
  });

  it("passes the handler's own error through, after releasing the lock", async () => {
    const failed = await request(url).post('/accounts/acct-4/fail');
    expect(failed.status).toBe(403);
    expect(failed.body.message).toBe('not allowed');
    expect((await request(url).post('/accounts/acct-4/withdraw')).status).toBe(201);
  });

  it('turns a conflict into success with `wait` when the holder finishes in time', async () => {
    const gate = gates.close('waiting:acct-5');
    const first = request(url).post('/accounts/acct-5/withdraw-waiting').then((r) => r);
    await gate.entered;
    const second = request(url).post('/accounts/acct-5/withdraw-waiting').then((r) => r);
    await waitForQueue(app, namespace, 'accounts', 'acct-5');
    gate.open();
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.headers['retry-after']).toBeUndefined();
  });

  it('locks both accounts of a transfer', async () => {
    const gate = gates.close('transfer:acct-6:acct-7');
    const transfer = request(url).post('/accounts/transfer').send({ from: 'acct-6', to: 'acct-7' }).then((r) => r);
    await gate.entered;
    expect((await request(url).post('/accounts/acct-6/withdraw')).status).toBe(409);
    expect((await request(url).post('/accounts/acct-7/withdraw')).status).toBe(409);
    gate.open();
    expect((await transfer).status).toBe(201);
    expect((await request(url).post('/accounts/acct-7/withdraw')).status).toBe(201);
  });

  it.each([
    [{}, /missing: the request has no body.orderId/],
    [{ orderId: 42 }, /must be a string, got number/],
    [{ orderId: '' }, /must not be empty/],
    [{ orderId: ['a', {}] }, /body.orderId must be one string, got an array/],
    [{ orderId: ['a', 'b'] }, /body.orderId must be one string, got an array/],
    [{ orderId: { id: 'a' } }, /body.orderId must be one string, got an object/],
    [{ orderId: 'x'.repeat(2000) }, /limit is 1024/],
  ])('answers 400 for a body %j and does not run the handler', async (body, message) => {
    const before = calls.byBody;
    const response = await request(url).post('/accounts/by-body').send(body);
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(message);
    expect(calls.byBody).toBe(before);
  });

  it('accepts an array of ids from an idFrom function, and unusual but valid ids', async () => {
    const several = await request(url).post('/accounts/by-body-list').send({ orderIds: ['a/b', '..', 'ü'] });
    expect(several.status).toBe(201);
    expect(several.body).toEqual({ lockedIds: ['a/b', '..', 'ü'] });
    expect((await request(url).post('/accounts/%2E%2E/withdraw')).status).toBe(201);
  });

  it('lets a handler join its own lock through LockService instead of answering 409 to itself', async () => {
    const response = await request(url).post('/accounts/acct-8/nested');
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ joined: true });
  });

  it('locks every handler of a class-level @WithLock, lets a method override it, and @SkipLock() opt out', async () => {
    const gate = gates.close('pay:o-1');
    const paying = request(url).post('/orders/o-1/pay').then((r) => r);
    await gate.entered;
    expect((await request(url).post('/orders/o-1/pay')).status).toBe(409);
    // @SkipLock(): this handler runs without the class's lock, so o-1 being held does not stop it
    const peeked = await request(url).post('/orders/o-1/peek');
    expect(peeked.status).toBe(201);
    expect(peeked.body).toEqual({ peeked: 'o-1', locked: false });
    // the method-level lock (query.key in scope notes) replaces the class's: o-1 is not locked by it
    const noted = await request(url).post('/orders/o-1/note?key=k-1');
    expect(noted.status).toBe(201);
    expect(noted.body).toEqual({ noted: 'o-1', lockedIds: ['k-1'], scope: 'notes' });
    gate.open();
    expect((await paying).status).toBe(201);
    expect((await request(url).post('/orders/o-1/note')).status).toBe(400); // no ?key
  });

  it('answers 400 when a dotted path gives a repeated query parameter, and runs nothing', async () => {
    const gate = gates.close('note:o-2'); // would hang the request if the handler ran
    const repeated = await request(url).post('/orders/o-2/note?key=k-1&key=k-2');
    expect(repeated.status).toBe(400);
    expect(repeated.body.message).toMatch(/query.key must be one string, got an array/);
    gate.open();
    const nested = await request(url).post('/orders/o-2/note?key[a]=k-1');
    expect(nested.status).toBe(400);
  });

  it('holds the lock while an SSE stream runs and releases it at the end', async () => {
    const streaming = readEvents(`${url}/accounts/acct-9/stream`, Infinity);
    await waitForHolder(app, namespace, 'accounts', 'acct-9');
    expect((await request(url).post('/accounts/acct-9/withdraw')).status).toBe(409);
    expect(await streaming).toHaveLength(6);
    await app.get(LockService).withLock('acct-9', () => undefined, { scope: 'accounts', wait: 5_000 });
  });

  it('releases the lock of an SSE stream when the client disconnects', async () => {
    const closedBefore = calls.streamClosed;
    const events = await readEvents(`${url}/accounts/acct-10/stream`, 1);
    expect(events).toHaveLength(1);
    // the client is gone: the stream is unsubscribed and the lock freed, long before the 6th event
    await app.get(LockService).withLock('acct-10', () => undefined, { scope: 'accounts', wait: 5_000 });
    expect(calls.streamClosed).toBeGreaterThan(closedBefore);
  });

  it('turns the async context storage off again once the requests above are answered (no tax on other routes)', async () => {
    // Every test above ran @WithLock handlers to their end: answered, failed, 409, 400, streamed, cut off.
    const lock = await request(url).post('/accounts/acct-11/withdraw');
    expect(lock.status).toBe(201);
    expect(app.get(LockService).heldCount).toBe(0);
    expect(joinableHandles()).toBe(0); // a handle never counted out would keep Node's promise hook on
    expect(lockScope.getStore()).toBeUndefined();
  });
});

describe('@WithLock across applications and outages', () => {
  afterEach(cleanup);

  it('excludes each other across two applications (two sessions)', async () => {
    const namespace = uniqueNamespace('two-apps');
    const options = { connectionString: sharedConnectString(), namespace };
    const one = await createLockedApp('express', options);
    const two = await createLockedApp('fastify', options);
    try {
      const gate = one.gates.close('withdraw:shared');
      const first = request(one.url).post('/accounts/shared/withdraw').then((r) => r);
      await gate.entered;
      expect((await request(two.url).post('/accounts/shared/withdraw')).status).toBe(409);
      gate.open();
      expect((await first).status).toBe(201);
      expect((await request(two.url).post('/accounts/shared/withdraw')).status).toBe(201);
    } finally {
      await Promise.all([one.app.close(), two.app.close()]);
    }
  });

  it('answers 503 quickly while ZooKeeper is down and 201 again once it is back, without restart', async () => {
    const server = await startServer();
    const { app, url } = await createLockedApp('express', {
      connectionString: server.connectString,
      namespace: uniqueNamespace('outage'),
      sessionTimeout: 2_000,
      operationTimeout: 1_000,
      retryDelay: 100,
    });
    try {
      expect((await request(url).post('/accounts/a/withdraw')).status).toBe(201);
      await server.kill();
      await waitForState(app.get(ZookeeperService), ['lost', 'expired']);
      const started = Date.now();
      const down = await request(url).post('/accounts/a/withdraw');
      expect(down.status).toBe(503);
      expect(down.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'LOCK_UNAVAILABLE',
        message: 'Locking is unavailable right now; try again later',
      });
      expect(Date.now() - started).toBeLessThan(1_000);
      await server.start();
      await waitForState(app.get(ZookeeperService), 'connected');
      expect((await request(url).post('/accounts/a/withdraw')).status).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('starts while ZooKeeper is down, answers 503, then 201 once it is up', async () => {
    const server = await startServer();
    await server.stop();
    const { app, url } = await createLockedApp('fastify', {
      connectionString: server.connectString,
      namespace: uniqueNamespace('late'),
      connectTimeout: 200,
      retryDelay: 100,
    });
    try {
      expect((await request(url).post('/accounts/a/withdraw')).status).toBe(503);
      await server.start();
      await waitForState(app.get(ZookeeperService), 'connected');
      expect((await request(url).post('/accounts/a/withdraw')).status).toBe(201);
    } finally {
      await app.close();
    }
  });
});

/** Resolves once someone waits in the queue of (scope, id). */
async function waitForQueue(app: INestApplication, namespace: string, scope: string, id: string): Promise<void> {
  const { waitForChildren } = await import('./support/zookeeper');
  await waitForChildren(app.get(ZookeeperService), `${namespace}/${scope}/${id}%q`, 1);
}

/** Resolves once (scope, id) is held by someone (a child watch per change of the scope). */
async function waitForHolder(app: INestApplication, namespace: string, scope: string, id: string): Promise<void> {
  const zk = app.get(ZookeeperService);
  for (;;) {
    let changed!: () => void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    const children = await zk.getChildren(`${namespace}/${scope}`, () => changed());
    if (children.includes(id)) return;
    await change;
  }
}
