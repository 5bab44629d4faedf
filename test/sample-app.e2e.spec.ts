import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../sample-app/src/app.module';
import { readSampleConfig } from '../sample-app/src/sample.config';
import { SettlementJob } from '../sample-app/src/settlement.job';
import { LockService, ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, listTree, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const ADMIN_TOKEN = 'sample-admin-token-for-tests';
const OWNERS = ['sample-a', 'sample-b'];

/** The sample app, twice (two instances, two ZooKeeper sessions), sharing one accounts file. */
describe('sample app end to end', () => {
  const instances: INestApplication[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    // Read by @nestjs/config when each application is created (sample-app/src/sample.config.ts).
    process.env.ZOOKEEPER_CONNECT = sharedConnectString();
    process.env.LOCK_NAMESPACE = uniqueNamespace('sample');
    process.env.ACCOUNTS_FILE = join(mkdtempSync(join(tmpdir(), 'nzl-sample-')), 'accounts.json');
    process.env.SETTLEMENT_ENABLED = 'false'; // the tests run the job themselves, not its 30 s @Cron
    process.env.ADMIN_TOKEN = ADMIN_TOKEN;
    for (let i = 0; i < 2; i++) {
      process.env.LOCK_OWNER_NAME = OWNERS[i];
      const app = await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      instances.push(app);
      urls.push(await app.getUrl());
    }
  });

  afterAll(async () => {
    await Promise.all(instances.map((app) => app.close()));
    for (const name of ['ZOOKEEPER_CONNECT', 'LOCK_NAMESPACE', 'ACCOUNTS_FILE', 'SETTLEMENT_ENABLED', 'ADMIN_TOKEN', 'LOCK_OWNER_NAME']) {
      delete process.env[name];
    }
    await cleanup();
  });

  const admin = (url: string, path: string) => request(url).get(path).set('authorization', `Bearer ${ADMIN_TOKEN}`);

  it('reports ZooKeeper health through @nestjs/terminus', async () => {
    const health = await request(urls[0]).get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      info: { zookeeper: { status: 'up', state: 'connected', sessionId: expect.stringMatching(/^[0-9a-f]{16}$/) } },
    });
    // Each instance reports its own session.
    const other = await request(urls[1]).get('/health');
    expect(other.status).toBe(200);
    expect(other.body.info.zookeeper.sessionId).not.toBe(health.body.info.zookeeper.sessionId);
  });

  it('answers 503 on /health once its ZooKeeper session is gone', async () => {
    process.env.LOCK_OWNER_NAME = 'sample-health';
    const app = await NestFactory.create(AppModule, { logger: false });
    try {
      await app.listen(0, '127.0.0.1');
      await app.get(ZookeeperService).close(); // the session ends, as at shutdown
      const health = await request(await app.getUrl()).get('/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'error', error: { zookeeper: { status: 'down', state: 'closed' } } });
    } finally {
      await app.close();
    }
  });

  it('refuses double submits across instances with 409 and keeps the balance right', async () => {
    expect((await request(urls[0]).post('/accounts/alice/deposit').send({ amount: 100 })).status).toBe(201);
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => request(urls[i % 2]).post('/accounts/alice/withdraw').send({ amount: 10 })),
    );
    const ok = attempts.filter((r) => r.status === 201).length;
    const conflicts = attempts.filter((r) => r.status === 409).length;
    expect(ok + conflicts).toBe(10);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(conflicts).toBeGreaterThanOrEqual(1);
    const balance = (await request(urls[1]).get('/accounts/alice')).body.balance;
    expect(balance).toBe(100 - 10 * ok); // no lost update
  });

  it('transfers between two locked accounts, waiting for them if needed', async () => {
    await request(urls[0]).post('/accounts/bob/deposit').send({ amount: 50 });
    await request(urls[1]).post('/accounts/carol/deposit').send({ amount: 10 });
    const [t1, t2] = await Promise.all([
      request(urls[0]).post('/accounts/transfer').send({ from: 'bob', to: 'carol', amount: 20 }),
      request(urls[1]).post('/accounts/transfer').send({ from: 'carol', to: 'bob', amount: 5 }),
    ]);
    expect([t1.status, t2.status]).toEqual([201, 201]);
    const bob = (await request(urls[0]).get('/accounts/bob')).body.balance;
    const carol = (await request(urls[0]).get('/accounts/carol')).body.balance;
    expect({ bob, carol }).toEqual({ bob: 35, carol: 25 });
  });

  it('answers bad input with 400 and a reason', async () => {
    const bad = await request(urls[0]).post('/accounts/alice/withdraw').send({ amount: -3 });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('amount must be a positive whole number');
    const noIds = await request(urls[0]).post('/accounts/transfer').send({ amount: 1 });
    expect(noIds.status).toBe(400);
  });

  it('authorises account ids in a guard, before anything locks them (403, no node made)', async () => {
    const zk = instances[0].get(ZookeeperService);
    const before = await listTree(zk, process.env.LOCK_NAMESPACE!);
    for (const id of ['a b', 'x'.repeat(65), 'caf\u00e9']) {
      const refused = await request(urls[0]).post(`/accounts/${encodeURIComponent(id)}/deposit`).send({ amount: 1 });
      expect(refused.status).toBe(403);
    }
    const transfer = await request(urls[0]).post('/accounts/transfer').send({ from: 'bob', to: { $ne: 1 }, amount: 1 });
    expect(transfer.status).toBe(403);
    expect(await listTree(zk, process.env.LOCK_NAMESPACE!)).toEqual(before);
  });

  it('treats __proto__ and constructor as plain account ids (no prototype pollution)', async () => {
    try {
      const deposit = await request(urls[0]).post('/accounts/__proto__/deposit').send({ amount: 7 });
      expect(deposit.status).toBe(201);
      expect(deposit.body).toMatchObject({ id: '__proto__', balance: 7 });
      expect(({} as { balance?: unknown }).balance).toBeUndefined();
      expect((await request(urls[1]).get('/accounts/__proto__')).body).toMatchObject({ id: '__proto__', balance: 7 });
      expect((await request(urls[1]).get('/accounts/constructor')).body).toEqual({ id: 'constructor', balance: 0, fencingToken: '0' });
      // Other accounts still read and write through the file that now holds a `__proto__` key.
      expect((await request(urls[0]).post('/accounts/erin/deposit').send({ amount: 2 })).body).toMatchObject({ balance: 2 });
    } finally {
      delete (Object.prototype as { balance?: unknown }).balance;
      delete (Object.prototype as { fencingToken?: unknown }).fencingToken;
    }
  });

  it('streams a statement while holding the account, then frees it', async () => {
    const statement = await request(urls[0]).get('/accounts/dave/statement').buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done(null, text));
    });
    expect(String(statement.body)).toContain('"done":true');
    expect((await request(urls[1]).post('/accounts/dave/deposit').send({ amount: 1 })).status).toBe(201);
  });

  it('streams statements of one account side by side (shared lock) while payments get 409', async () => {
    const read = (url: string) =>
      request(url).get('/accounts/frank/statement').buffer(true).parse((res, done) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('"step":1')) started();
        });
        res.on('end', () => done(null, text));
      }).then((response) => response); // sent now (a supertest request is sent when awaited)
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => (started = resolve));
    const first = read(urls[0]);
    await streaming; // the first statement holds the account, shared
    const [second, deposit] = await Promise.all([read(urls[1]), request(urls[1]).post('/accounts/frank/deposit').send({ amount: 1 })]);
    expect(deposit.status).toBe(409); // a writer is excluded while statements stream
    expect(String(second.body)).toContain('"done":true'); // another reader was not
    expect(String((await first).body)).toContain('"done":true');
    expect((await request(urls[0]).post('/accounts/frank/deposit').send({ amount: 1 })).status).toBe(201);
  });

  it('allows at most 2 exports of one account at once across instances (limit); the 3rd gets 409', async () => {
    const exports = await Promise.all([0, 1, 0].map((i) => request(urls[i]).get('/accounts/gina/export')));
    expect(exports.map((r) => r.status).sort()).toEqual([200, 200, 409]);
    expect((await request(urls[1]).get('/accounts/gina/export')).status).toBe(200); // freed again
  });

  it('runs the settlement job on one instance at a time, once per tick (holdAtLeast)', async () => {
    const jobs = instances.map((app) => app.get(SettlementJob));
    const outcomes = await Promise.all([jobs[0].settle(), jobs[1].settle()]);
    expect(outcomes).toContain('settled');
    expect((await request(urls[0]).get('/accounts/fees')).body.balance).toBe(outcomes.filter((o) => o === 'settled').length);
    // Firings later in the same tick, on either instance, find the lock still held for holdAtLeast.
    expect(await Promise.all([jobs[1].settle(), jobs[0].settle()])).toEqual(['skipped', 'skipped']);
    const settledBy = OWNERS[outcomes.indexOf('settled')];
    const lock = await admin(urls[1], '/admin/locks/jobs/settlement');
    expect(lock.body).toMatchObject({ id: 'settlement', scope: 'jobs', mode: 'exclusive', holders: [{ owner: settledBy }] });
  });

  it('shows who holds a lock, from any instance, behind the admin token', async () => {
    const held = await instances[0].get(LockService).acquire('frank', { scope: 'accounts' });
    try {
      const inspected = await admin(urls[1], '/admin/locks/accounts/frank');
      expect(inspected.status).toBe(200);
      expect(inspected.body).toEqual({
        id: 'frank',
        scope: 'accounts',
        mode: 'exclusive',
        holders: [{ owner: 'sample-a', since: expect.any(String), fencingToken: String(await held.fencingToken()) }],
        waiting: 0,
      });
      expect(Date.now() - Date.parse(inspected.body.holders[0].since)).toBeLessThan(60_000);
      const listed = await admin(urls[1], '/admin/locks?scope=accounts');
      expect(listed.status).toBe(200);
      expect(listed.body).toContainEqual(inspected.body);
      const everywhere = await admin(urls[0], '/admin/locks');
      expect(everywhere.body).toContainEqual(inspected.body);
    } finally {
      await held.release();
    }
    const free = await admin(urls[1], '/admin/locks/accounts/frank');
    expect(free.body).toMatchObject({ id: 'frank', mode: 'free', holders: [] });
    expect((await admin(urls[1], '/admin/locks?scope=accounts')).body).not.toContainEqual(expect.objectContaining({ id: 'frank' }));
  });

  it('refuses the admin routes without the right token (401), and bad scopes with 400', async () => {
    expect((await request(urls[0]).get('/admin/locks')).status).toBe(401);
    expect((await request(urls[0]).get('/admin/locks/accounts/frank')).status).toBe(401);
    const wrong = await request(urls[0]).get('/admin/locks').set('authorization', `Bearer ${ADMIN_TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain(ADMIN_TOKEN);
    expect((await request(urls[0]).get('/admin/locks').set('authorization', ADMIN_TOKEN)).status).toBe(401);
    expect((await admin(urls[0], '/admin/locks?scope=')).status).toBe(400);
    expect((await admin(urls[0], '/admin/locks?scope=a&scope=b')).status).toBe(400);
    expect((await admin(urls[0], `/admin/locks/${'s'.repeat(1025)}/frank`)).status).toBe(400);
  });

  it('refuses a bad setting at start-up, naming the variable and never echoing the admin token', async () => {
    process.env.SETTLEMENT_ENABLED = 'maybe';
    try {
      await expect(NestFactory.create(AppModule, { logger: false, abortOnError: false })).rejects.toThrow(
        'SETTLEMENT_ENABLED must be true or false (or 1 or 0), got "maybe"',
      );
    } finally {
      process.env.SETTLEMENT_ENABLED = 'false';
    }
    expect(() => readSampleConfig({ ZOOKEEPER_SESSION_TIMEOUT: '15s' })).toThrow('ZOOKEEPER_SESSION_TIMEOUT must be a whole number');
    expect(() => readSampleConfig({ PORT: '-1' })).toThrow('PORT must be a whole number');
    expect(() => readSampleConfig({ ADMIN_TOKEN: 'short-secret' })).toThrow(/^ADMIN_TOKEN must be at least 16 characters[^]*$/);
    expect(() => readSampleConfig({ ADMIN_TOKEN: 'short-secret' })).not.toThrow('short-secret');
    expect(readSampleConfig({})).toMatchObject({ port: 3000, settlementEnabled: true, adminToken: undefined });
  });

  it('keeps the admin routes off (403) when ADMIN_TOKEN is not set', async () => {
    delete process.env.ADMIN_TOKEN;
    process.env.LOCK_OWNER_NAME = 'sample-no-admin';
    const app = await NestFactory.create(AppModule, { logger: false });
    try {
      await app.listen(0, '127.0.0.1');
      const url = await app.getUrl();
      expect((await request(url).get('/admin/locks')).status).toBe(403);
      expect((await admin(url, '/admin/locks')).status).toBe(403);
    } finally {
      process.env.ADMIN_TOKEN = ADMIN_TOKEN;
      await app.close();
    }
  });
});
