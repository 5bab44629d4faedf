/**
 * Scenario 7: ACL. The app runs with `auth: 'user:pw'` and `acl: 'creator'`, so its lock nodes belong
 * to that identity. A raw ZooKeeper client without the credentials, or with wrong ones, can neither
 * read, delete, overwrite, re-ACL nor pre-empt them (every attempt is refused NO_AUTH) and the lock stays
 * held. A second instance with the right credentials contends normally (409 / 200). Apps with wrong or
 * no credentials answer 503 with a message that names the refusal (NO_AUTH) and the auth/acl options:
 * ZooKeeper's digest auth never fails at connect, it surfaces on the first refused operation.
 */
import { INestApplication, Logger } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LockService, LockUnavailableError, ZookeeperLockModuleOptions, ZookeeperService } from 'nestjs-zookeeper-lock';
import { createCounterApp } from './support/counter-app';
import { emptyOutcomes, recordFigures } from './support/figures';
import { leftoverNodes } from './support/fleet';
import { classify, closeAgents, post, Reply } from './support/load';
import { newLockService } from '../support/locks';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from '../support/zookeeper';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const zookeeper = require('node-zookeeper-client');

interface RawClient {
  connect(): void;
  close(): void;
  addAuthInfo(scheme: string, auth: Buffer): void;
  once(event: string, listener: () => void): void;
  remove(path: string, version: number, cb: (e: RawError | null) => void): void;
  setData(path: string, data: Buffer, version: number, cb: (e: RawError | null) => void): void;
  setACL(path: string, acls: unknown[], version: number, cb: (e: RawError | null) => void): void;
  getData(path: string, cb: (e: RawError | null) => void): void;
  getChildren(path: string, cb: (e: RawError | null) => void): void;
  create(path: string, data: Buffer, acls: unknown[], mode: number, cb: (e: RawError | null) => void): void;
  connectionManager: { socket?: { once(event: string, l: () => void): void } };
}
interface RawError {
  getCode(): number;
  getName(): string;
}

async function rawClient(credentials?: string): Promise<RawClient> {
  const client: RawClient = zookeeper.createClient(sharedConnectString(), { sessionTimeout: 4_000, retries: 0 });
  if (credentials) client.addAuthInfo('digest', Buffer.from(credentials));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('raw client could not connect')), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

async function closeRaw(client: RawClient): Promise<void> {
  const socket = client.connectionManager.socket;
  const closed = socket ? new Promise<void>((resolve) => socket.once('close', () => resolve())) : Promise.resolve();
  client.close();
  await closed;
}

/** Runs a raw operation; resolves with the error's name ('OK' when it was allowed). */
function attempt(run: (cb: (e: RawError | null) => void) => void): Promise<string> {
  return new Promise((resolve) => run((error) => resolve(error ? error.getName() : 'OK')));
}

const OPEN_ACL = [new zookeeper.ACL(zookeeper.Permission.ALL, zookeeper.Id.ANYONE_ID_UNSAFE)];

describe('7. ACL: creator-only lock nodes', () => {
  const namespace = uniqueNamespace('faults-acl');
  const apps: INestApplication[] = [];
  const raws: RawClient[] = [];
  const outcomes = emptyOutcomes();
  let requests = 0;
  let maxLatencyMs = 0;
  const refusals: Record<string, number> = {};

  async function app(options: Partial<ZookeeperLockModuleOptions>): Promise<{ url: string; app: INestApplication }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'nzl-faults-acl-'));
    const started = await createCounterApp({
      zookeeper: { connectionString: sharedConnectString(), namespace, sessionTimeout: 8_000, operationTimeout: 2_000, ...options },
      dataDir,
      logFile: join(dataDir, 'app.log'),
    });
    apps.push(started.app);
    return started;
  }

  function count(reply: Reply): Reply {
    requests += 1;
    classify(outcomes, reply.status);
    maxLatencyMs = Math.max(maxLatencyMs, reply.latencyMs);
    return reply;
  }

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(raws.map(closeRaw));
    closeAgents();
    await cleanup();
  });

  it('keeps strangers off the lock nodes, lets a peer with the credentials contend, and says why others get 503', async () => {
    const owner = await app({ auth: 'user:pw', acl: 'creator' });
    const peer = await app({ auth: 'user:pw', acl: 'creator' });
    const ownerLocks = owner.app.get(LockService);
    const ownerZk = owner.app.get(ZookeeperService);
    const held = await ownerLocks.acquire('acct-held', { scope: 'counters' });
    const scopeDir = `${namespace}/counters`;
    const holder = `${scopeDir}/acct-held`;
    const before = await ownerZk.getData(holder);

    // Strangers: no credentials, and wrong ones. Every way to read, break or take the lock is refused.
    for (const credentials of [undefined, 'user:wrong']) {
      const stranger = await rawClient(credentials);
      raws.push(stranger);
      const tries: Record<string, string> = {
        'read holder': await attempt((cb) => stranger.getData(holder, cb)),
        'delete holder': await attempt((cb) => stranger.remove(holder, -1, cb)),
        'overwrite holder': await attempt((cb) => stranger.setData(holder, Buffer.from('mine'), -1, cb)),
        'open up holder ACL': await attempt((cb) => stranger.setACL(holder, OPEN_ACL, -1, cb)),
        'create holder again': await attempt((cb) => stranger.create(holder, Buffer.from('mine'), OPEN_ACL, zookeeper.CreateMode.EPHEMERAL, cb)),
        'queue for holder': await attempt((cb) => stranger.create(`${holder}%q`, Buffer.alloc(0), OPEN_ACL, zookeeper.CreateMode.PERSISTENT, cb)),
        'take a free id': await attempt((cb) => stranger.create(`${scopeDir}/acct-free`, Buffer.from('mine'), OPEN_ACL, zookeeper.CreateMode.EPHEMERAL, cb)),
        'list locks': await attempt((cb) => stranger.getChildren(scopeDir, cb)),
        'delete scope': await attempt((cb) => stranger.remove(scopeDir, -1, cb)),
        'open up namespace ACL': await attempt((cb) => stranger.setACL(namespace, OPEN_ACL, -1, cb)),
      };
      for (const [what, result] of Object.entries(tries)) {
        if (result === 'NO_AUTH') refusals[credentials ?? 'none'] = (refusals[credentials ?? 'none'] ?? 0) + 1;
        else outcomes.other += 1; // counted as a failed request
        expect(`${credentials ?? 'no credentials'}: ${what}: ${result}`).toBe(`${credentials ?? 'no credentials'}: ${what}: NO_AUTH`);
      }
    }

    // Still held, by the same acquisition.
    const after = await ownerZk.getData(holder);
    expect(after.data.toString()).toBe(before.data.toString());
    expect(after.stat.ephemeralOwner).toBe(ownerZk.sessionId);
    expect(held.signal.aborted).toBe(false);

    // A peer with the credentials contends as usual.
    expect(count(await post(`${peer.url}/counter/acct-held`)).status).toBe(409);
    expect(count(await post(`${peer.url}/counter/acct-free`)).status).toBe(200);

    // Apps with wrong or no credentials: 503, with a generic body; what is wrong goes to their log.
    const warnings = jest.spyOn(Logger.prototype, 'warn');
    for (const options of [{ auth: 'user:wrong', acl: 'creator' as const }, {}]) {
      const other = await app(options);
      for (const id of ['acct-held', 'acct-free']) {
        warnings.mockClear();
        const reply = count(await post(`${other.url}/counter/${id}`));
        expect(reply.status).toBe(503);
        expect(JSON.parse(reply.body)).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'LOCK_UNAVAILABLE',
          message: 'Locking is unavailable right now; try again later',
        });
        expect(reply.body).not.toContain(namespace);
        expect(reply.body).not.toContain('NO_AUTH');
        // At most one line per second per code: the second request may be folded into the next line.
        if (id === 'acct-held') {
          expect(warnings.mock.calls.map(([message]) => String(message))).toContainEqual(
            expect.stringMatching(/@WithLock answered 503 LOCK_UNAVAILABLE: .*NO_AUTH.*check the module's auth and acl options/),
          );
        }
      }
      const locks = other.app.get(LockService);
      requests += 1;
      const error = await locks.acquire('acct-free', { scope: 'counters' }).catch((e: unknown) => e);
      classify(outcomes, error instanceof LockUnavailableError ? 503 : 0);
      expect(error).toBeInstanceOf(LockUnavailableError);
      expect((error as Error).message).toMatch(/auth and acl/);
    }
    warnings.mockRestore();
    // A stranger's LockService on its own session, too.
    const strangerLocks = newLockService(await newService({ namespace }));
    requests += 1;
    const refused = await strangerLocks.acquire('acct-held', { scope: 'counters' }).catch((e: unknown) => e);
    classify(outcomes, refused instanceof LockUnavailableError ? 503 : 0);
    expect(refused).toBeInstanceOf(LockUnavailableError);

    await held.release();
    expect(count(await post(`${peer.url}/counter/acct-held`)).status).toBe(200);
    const leftovers = await leftoverNodes(ownerZk, namespace);
    recordFigures({
      scenario: '7. ACL (auth + creator ACL)',
      requests,
      outcomes,
      maxLatencyMs,
      orphanedNodes: leftovers.length,
      extra: {
        'raw ops refused NO_AUTH, no credentials': refusals.none ?? 0,
        'raw ops refused NO_AUTH, wrong credentials': refusals['user:wrong'] ?? 0,
        'lock still held by its owner afterwards': after.stat.ephemeralOwner === ownerZk.sessionId,
      },
    });
    expect(leftovers).toEqual([]);
    expect(outcomes.other).toBe(0);
  });
});
