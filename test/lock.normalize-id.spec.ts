/**
 * `normalizeId`: ids that a store compares as equal (a case-insensitive collation, NFC vs NFD) can be made
 * one lock, on the real ZooKeeper backend and over HTTP. Without the hook, lock identity is the exact string.
 */
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InvalidLockIdError, LockConflictError, LockEvent, Locked, WithLock } from 'nestjs-zookeeper-lock';
import { resolveOptions } from '../lib/module/zookeeper-lock-options';
import { createLockedApp } from './support/locked-app';
import { newLockService } from './support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from './support/zookeeper';

const caseAndForm = (id: string) => id.normalize('NFC').trim().toLowerCase();
const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

describe('normalizeId', () => {
  afterAll(cleanup);

  it('without it, lock identity is the exact string (case, Unicode form and spaces all count)', async () => {
    const namespace = uniqueNamespace('norm');
    const [a, b] = [newLockService(await newService({ namespace })), newLockService(await newService({ namespace }))];
    const held = await a.acquire(['ACCT-1', NFC, 'x']);
    const others = await b.acquire(['acct-1', NFD, 'x ']);
    await Promise.all([held.release(), others.release()]);
  });

  it('as a module option, makes ids that normalize alike one lock across instances', async () => {
    const namespace = uniqueNamespace('norm');
    const events: LockEvent[] = [];
    const a = newLockService(await newService({ namespace, normalizeId: caseAndForm, onLockEvent: (e) => events.push(e) }));
    const b = newLockService(await newService({ namespace, normalizeId: caseAndForm }));
    const held = await a.acquire(['ACCT-1', NFC]);
    expect(events.find((e) => e.type === 'acquired')).toMatchObject({ ids: ['acct-1', NFC] });
    for (const id of ['acct-1', ' Acct-1 ', NFD, NFD.toUpperCase()]) {
      await expect(b.acquire(id)).rejects.toMatchObject({ code: 'LOCK_CONFLICT', ids: [caseAndForm(id)] });
    }
    await held.release();
    // ids that collapse to one in a single call are one lock, taken once
    const both = await b.acquire(['ACCT-1', 'acct-1']);
    await expect(a.acquire('Acct-1')).rejects.toBeInstanceOf(LockConflictError);
    await both.release();
  });

  it('per call overrides the module option, and `false` turns it off', async () => {
    const namespace = uniqueNamespace('norm');
    const a = newLockService(await newService({ namespace, normalizeId: caseAndForm }));
    const b = newLockService(await newService({ namespace, normalizeId: caseAndForm }));
    const held = await a.acquire('ACCT-1', { normalizeId: false }); // the exact string `ACCT-1`
    const lower = await b.acquire('acct-1'); // `acct-1`: another lock
    await expect(b.acquire('ACCT-1', { normalizeId: false })).rejects.toBeInstanceOf(LockConflictError);
    const seen: Array<[string, string]> = [];
    const prefix = (id: string, scope: string) => {
      seen.push([id, scope]);
      return `t-${id}`;
    };
    const custom = await a.acquire('ACCT-1', { normalizeId: prefix, scope: 'orders' });
    expect(seen).toEqual([['ACCT-1', 'orders']]);
    await expect(b.acquire('t-ACCT-1', { scope: 'orders', normalizeId: false })).rejects.toBeInstanceOf(LockConflictError);
    await Promise.all([held.release(), lower.release(), custom.release()]);
  });

  it('validates what the normalizer returns, and lets its own errors through', async () => {
    const lock = newLockService(await newService({ namespace: uniqueNamespace('norm') }));
    await expect(lock.acquire('a', { normalizeId: () => '' })).rejects.toThrow(new InvalidLockIdError('Lock id must not be empty'));
    await expect(lock.acquire('a', { normalizeId: () => 42 as never })).rejects.toBeInstanceOf(InvalidLockIdError);
    await expect(lock.acquire('a', { normalizeId: () => 'x'.repeat(1025) })).rejects.toBeInstanceOf(InvalidLockIdError);
    const own = new Error('not a valid account number');
    await expect(lock.acquire('a', { normalizeId: () => { throw own; } })).rejects.toBe(own);
    await expect(lock.acquire('a', { normalizeId: 'lower' as never })).rejects.toThrow(/`normalizeId` must be a function/);
  });

  it('refuses a module or decorator option that is not a function', () => {
    expect(() => resolveOptions({ connectionString: 'localhost:2181', normalizeId: 'lower' as never })).toThrow(
      /`normalizeId` must be a function/,
    );
    expect(() => WithLock('params.id', { normalizeId: 1 as never })).toThrow(/normalizeId must be a function/);
    expect(() => Locked('job', { normalizeId: {} as never })).toThrow(/normalizeId must be a function/);
  });

  describe('over HTTP', () => {
    let app: INestApplication;
    let url: string;
    let gates: Awaited<ReturnType<typeof createLockedApp>>['gates'];

    beforeAll(async () => {
      ({ app, url, gates } = await createLockedApp('express', {
        connectionString: sharedConnectString(),
        namespace: uniqueNamespace('norm-http'),
        normalizeId: caseAndForm,
        exposeLockIds: true, // so that the 409 names the lock it met
      }));
    });
    afterAll(() => app.close());

    it('answers 409 to /ACCT-9 while /acct-9 runs (Express routes match case-insensitively, the store may too)', async () => {
      const gate = gates.close('withdraw:acct-9');
      const first = request(url).post('/accounts/acct-9/withdraw').then((r) => r);
      await gate.entered;
      const second = await request(url).post('/accounts/ACCT-9/withdraw');
      expect(second.status).toBe(409);
      expect(second.body.ids).toEqual(['acct-9']); // the normalized id
      gate.open();
      expect((await first).status).toBe(201);
    });

    it('answers 400 when the normalized id cannot name a lock', async () => {
      const blank = await request(url).post(`/accounts/${encodeURIComponent('   ')}/withdraw`);
      expect(blank.status).toBe(400);
      expect(blank.body.message).toBe('Lock id must not be empty');
    });
  });
});
