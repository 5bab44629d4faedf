/**
 * Scenario 6: hostile ids. A corpus of 56 strings (separators, dot segments, percent-encodings, unicode
 * with unpaired surrogates, control characters, 1024-character strings) and of JSON body values (numbers,
 * booleans, null, objects, arrays good and bad, malformed bodies) goes through @WithLock (body and URL
 * path) and through LockService. Each is refused with 400 / InvalidLockIdError or works; none gives a
 * 500; no node is created outside the namespace (the whole tree of a private server is listed); and
 * distinct ids never share a lock (every pair is tried).
 */
import { INestApplication } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidLockIdError, LockConflictError, LockHandle, LockService } from 'nestjs-zookeeper-lock';
import { decodeNodeName, MAX_ID_LENGTH, MAX_IDS_PER_LOCK } from '../../lib/lock/lock-id';
import { createCounterApp } from './support/counter-app';
import { emptyOutcomes, recordFigures } from './support/figures';
import { classify, closeAgents, post, RawBody, Reply } from './support/load';
import { HOSTILE_IDS } from '../support/hostile-ids';
import { newLockService } from '../support/locks';
import { cleanup, listTree, newService, startServer, TestServer, uniqueNamespace } from '../support/zookeeper';

const NAMESPACE = `/faults${uniqueNamespace('hostile')}`;
const SCOPE = 'hostile';

/** JSON body values for `{ id: value }`, and what @WithLock must answer. */
const BODY_VALUES: Array<[string, unknown, 200 | 400]> = [
  ['number 0', 0, 400],
  ['number 1', 1, 400],
  ['number -1', -1, 400],
  ['number 1.5', 1.5, 400],
  ['number 1e21', 1e21, 400],
  ['true', true, 400],
  ['false', false, 400],
  ['null', null, 400],
  ['empty string', '', 400],
  [`${MAX_ID_LENGTH + 1} characters`, 'x'.repeat(MAX_ID_LENGTH + 1), 400],
  ['empty object', {}, 400],
  ['object', { a: 1 }, 400],
  ['object with id', { id: 'x' }, 400],
  ['object with toString', { toString: 'x' }, 400],
  ['array-like object', { length: 1, 0: 'a' }, 400],
  ['empty array', [], 400],
  ['array of a number', [1], 400],
  ['array with a number', ['a', 1], 400],
  ['array with null', ['a', null], 400],
  ['array with an empty string', ['a', ''], 400],
  ['nested array', [['a']], 400],
  ['array with an object', ['a', {}], 400],
  ['array with a long string', ['a', 'x'.repeat(MAX_ID_LENGTH + 1)], 400],
  [`array of ${MAX_IDS_PER_LOCK + 1}`, Array.from({ length: MAX_IDS_PER_LOCK + 1 }, (_, i) => `many-${i}`), 400],
  // A dotted path (this route's `body.id`) names one id: any array from the client is a 400 (issue 11,
  // item 16), while LockService takes a valid array of ids: SERVICE_TAKES says which.
  ['array of one', ['single'], 400],
  ['array of two', ['pair-a', 'pair-b'], 400],
  ['array with a duplicate', ['dup', 'dup'], 400],
  [`array of ${MAX_IDS_PER_LOCK}`, Array.from({ length: MAX_IDS_PER_LOCK }, (_, i) => `max-${i}`), 400],
  ['array of hostile strings', ['a/b', '..', '\ud83d', '\u0000'], 400],
];

/** Values that only a dotted path refuses: LockService (and an idFrom function) takes them. */
const SERVICE_TAKES = new Set(['array of one', 'array of two', 'array with a duplicate', `array of ${MAX_IDS_PER_LOCK}`, 'array of hostile strings']);

/** Whole bodies sent as they are. */
const RAW_BODIES: Array<[string, RawBody, 200 | 400]> = [
  ['no id', new RawBody('{"other":"x"}'), 400],
  ['__proto__ id', new RawBody('{"__proto__":{"id":"x"}}'), 400],
  ['constructor id', new RawBody('{"constructor":{"id":"x"}}'), 400],
  ['top-level array', new RawBody('["x"]'), 400],
  ['top-level string', new RawBody('"x"'), 400],
  ['top-level number', new RawBody('1'), 400],
  ['malformed JSON', new RawBody('{"id":'), 400],
  ['lone surrogate escape', new RawBody('{"id":"\\udc00"}'), 200], // valid JSON, and a valid id
  ['text body', new RawBody('id=x', 'text/plain'), 400],
  ['form body', new RawBody('id=x', 'application/x-www-form-urlencoded'), 200], // Nest parses forms too
  ['form body, repeated key', new RawBody('id=x&id=y', 'application/x-www-form-urlencoded'), 400], // an array: not one id
  ['form body, nested key', new RawBody('id[a]=x', 'application/x-www-form-urlencoded'), 400],
];

/** URL path segments, raw: malformed escapes, encoded separators and dots. */
const RAW_PATHS = ['%2F', '%2E%2E', '..%2F..%2Fzookeeper', '%00', '%E0%A4%A', '%FF', '%', '%25', 'a%2Fb%2Fc', '%F0%9F%98%80', '%C0%AF', '~', '%7E'];

describe('6. hostile ids through @WithLock and LockService', () => {
  let server: TestServer;
  let app: INestApplication;
  let url: string;
  let a: LockService;
  let b: LockService;
  const outcomes = emptyOutcomes();
  let requests = 0;
  let maxLatencyMs = 0;
  let unexpected: string[] = [];
  let unexpectedTotal = 0;

  function count(label: string, reply: Reply, expected: number | number[]): void {
    requests += 1;
    classify(outcomes, reply.status);
    maxLatencyMs = Math.max(maxLatencyMs, reply.latencyMs);
    const allowed = Array.isArray(expected) ? expected : [expected];
    if (!allowed.includes(reply.status)) unexpected.push(`${label}: ${reply.status} ${reply.error ?? reply.body.slice(0, 200)}`);
  }

  async function viaService(label: string, work: () => Promise<unknown>, expected: 200 | 400 | 409): Promise<void> {
    requests += 1;
    let status: number;
    try {
      const handle = (await work()) as LockHandle;
      await handle.release();
      status = 200;
    } catch (error) {
      status = error instanceof InvalidLockIdError ? 400 : error instanceof LockConflictError ? 409 : 0;
      if (status === 0) unexpected.push(`${label}: ${(error as Error).stack}`);
    }
    classify(outcomes, status);
    if (status !== expected) unexpected.push(`${label}: LockService gave ${status}, expected ${expected}`);
  }

  beforeAll(async () => {
    server = await startServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'nzl-faults-hostile-'));
    ({ app, url } = await createCounterApp({
      zookeeper: { connectionString: server.connectString, namespace: NAMESPACE, sessionTimeout: 10_000 },
      dataDir,
      logFile: join(dataDir, 'app.log'),
    }));
    a = newLockService(await newService({ connectionString: server.connectString, namespace: NAMESPACE }));
    b = newLockService(await newService({ connectionString: server.connectString, namespace: NAMESPACE }));
  });

  afterEach(() => {
    unexpectedTotal += unexpected.length;
    unexpected = [];
  });

  afterAll(async () => {
    await app?.close();
    closeAgents();
    await cleanup();
  });

  it('gives every hostile string a lock of its own, the same through HTTP as through LockService', async () => {
    expect(HOSTILE_IDS.length).toBeGreaterThanOrEqual(50);
    expect(new Set(HOSTILE_IDS).size).toBe(HOSTILE_IDS.length);
    // All held at once by one session: had two ids shared a node, the second acquire would conflict.
    const held = await Promise.all(HOSTILE_IDS.map((id) => a.acquire(id, { scope: SCOPE })));
    requests += HOSTILE_IDS.length;
    outcomes[200] += HOSTILE_IDS.length;
    const zk = await newService({ connectionString: server.connectString });
    const names = await zk.getChildren(`${NAMESPACE}/${SCOPE}`);
    expect(names).toHaveLength(HOSTILE_IDS.length);
    expect(names.map(decodeNodeName).sort()).toEqual([...HOSTILE_IDS].sort());
    // Through @WithLock the same ids name the same locks: all busy now...
    for (const id of HOSTILE_IDS) count(`held ${JSON.stringify(id)}`, await post(`${url}/by-body`, { id }), 409);
    await Promise.all(held.map((h) => h.release()));
    // ... and all free once released.
    for (const id of HOSTILE_IDS) count(`free ${JSON.stringify(id)}`, await post(`${url}/by-body`, { id }), 200);
    expect(unexpected).toEqual([]);
  });

  it('answers JSON bodies of every shape with 200 or 400, never 500', async () => {
    for (const [label, value, expected] of BODY_VALUES) count(`body ${label}`, await post(`${url}/by-body`, { id: value }), expected);
    for (const [label, body, expected] of RAW_BODIES) count(`raw ${label}`, await post(`${url}/by-body`, body), expected);
    // Every encodable hostile id in the URL path works; raw malformed escapes get 400 (or 200 when they decode).
    for (const id of HOSTILE_IDS) {
      let segment: string;
      try {
        segment = encodeURIComponent(id);
      } catch {
        continue; // unpaired surrogates cannot be put in a URL
      }
      count(`path ${JSON.stringify(id)}`, await post(`${url}/by-param/${segment}`), 200);
    }
    for (const raw of RAW_PATHS) count(`raw path ${raw}`, await post(`${url}/by-param/${raw}`), [200, 400]);
    expect(unexpected).toEqual([]);
    expect(outcomes.other).toBe(0);
  });

  it('LockService refuses non-strings with InvalidLockIdError and takes hostile ids and scopes', async () => {
    for (const [label, value, expected] of BODY_VALUES) {
      await viaService(`acquire ${label}`, () => a.acquire(value as string), SERVICE_TAKES.has(label) ? 200 : expected);
    }
    for (const [label, value] of [['undefined', undefined], ['symbol', Symbol('s')], ['function', () => 'x'], ['bigint', 1n]] as const) {
      await viaService(`acquire ${label}`, () => a.acquire(value as never), 400);
    }
    for (const id of HOSTILE_IDS) await viaService(`scope ${JSON.stringify(id)}`, () => a.acquire('in-a-hostile-scope', { scope: id }), 200);
    await viaService('empty scope', () => a.acquire('x', { scope: '' }), 400);
    expect(unexpected).toEqual([]);
  });

  it('never lets two distinct ids share a lock: each held id excludes itself and no other', async () => {
    let pairs = 0;
    for (const heldId of HOSTILE_IDS) {
      const held = await a.acquire(heldId, { scope: SCOPE });
      await viaService(`same ${JSON.stringify(heldId)}`, () => b.acquire(heldId, { scope: SCOPE }), 409);
      const others = HOSTILE_IDS.filter((id) => id !== heldId);
      await Promise.all(
        others.map((other) =>
          viaService(`${JSON.stringify(other)} while ${JSON.stringify(heldId)} is held`, () => b.acquire(other, { scope: SCOPE }), 200),
        ),
      );
      pairs += others.length;
      await held.release();
    }
    expect(pairs).toBe(HOSTILE_IDS.length * (HOSTILE_IDS.length - 1));
    expect(unexpected).toEqual([]);
  });

  it('created no node outside the namespace, and left no lock node behind', async () => {
    const zk = await newService({ connectionString: server.connectString });
    const tree: string[] = [];
    for (const top of await zk.getChildren('/')) tree.push(`/${top}`, ...(await listTree(zk, `/${top}`)));
    const outside = tree.filter(
      (path) => !(path === '/zookeeper' || path.startsWith('/zookeeper/') || path === '/faults' || path === NAMESPACE || path.startsWith(`${NAMESPACE}/`)),
    );
    const lockNodes = tree.filter((path) => path.startsWith(`${NAMESPACE}/`) && path.slice(NAMESPACE.length + 1).includes('/'));
    recordFigures({
      scenario: '6. hostile ids',
      requests,
      outcomes,
      maxLatencyMs,
      orphanedNodes: lockNodes.length,
      extra: {
        'hostile strings': HOSTILE_IDS.length,
        'JSON body values': BODY_VALUES.length + RAW_BODIES.length,
        'raw URL paths': RAW_PATHS.length,
        'id pairs checked': HOSTILE_IDS.length * (HOSTILE_IDS.length - 1),
        'nodes outside namespace': outside.length,
        'unexpected answers': unexpectedTotal + unexpected.length,
      },
    });
    expect(outside).toEqual([]);
    expect(lockNodes).toEqual([]);
    expect(tree.filter((path) => path.startsWith(`${NAMESPACE}/`)).length).toBeGreaterThan(HOSTILE_IDS.length); // the scopes were made
    expect(outcomes.other).toBe(0);
    expect(unexpected).toEqual([]);
  });
});
