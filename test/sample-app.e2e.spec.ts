import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../sample-app/src/app.module';
import { SettlementJob } from '../sample-app/src/settlement.job';
import { ZookeeperService } from 'nestjs-zookeeper-lock';
import { cleanup, listTree, sharedConnectString, uniqueNamespace } from './support/zookeeper';

/** The sample app, twice (two instances, two ZooKeeper sessions), sharing one accounts file. */
describe('sample app end to end', () => {
  const instances: INestApplication[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    process.env.ZOOKEEPER_CONNECT = sharedConnectString();
    process.env.LOCK_NAMESPACE = uniqueNamespace('sample');
    process.env.ACCOUNTS_FILE = join(mkdtempSync(join(tmpdir(), 'nzl-sample-')), 'accounts.json');
    process.env.SETTLEMENT_INTERVAL_MS = String(60 * 60 * 1000);
    for (let i = 0; i < 2; i++) {
      const app = await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, '127.0.0.1');
      instances.push(app);
      urls.push(await app.getUrl());
    }
  });

  afterAll(async () => {
    await Promise.all(instances.map((app) => app.close()));
    await cleanup();
  });

  it('reports ZooKeeper health', async () => {
    const health = await request(urls[0]).get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ zookeeper: 'connected', session: expect.stringMatching(/^[0-9a-f]{16}$/) });
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

  it('runs the settlement job on one instance at a time', async () => {
    const jobs = instances.map((app) => app.get(SettlementJob));
    const outcomes = await Promise.all([jobs[0].settle(), jobs[1].settle()]);
    expect(outcomes).toContain('settled');
    expect((await request(urls[0]).get('/accounts/fees')).body.balance).toBe(outcomes.filter((o) => o === 'settled').length);
  });
});
