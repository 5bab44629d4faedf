/**
 * The largest input a caller may give (64 ids of 1,024 characters, in a 1,024-character scope, every
 * character one that encodes to 5 bytes) takes and frees its locks on a real server, fail-fast and
 * queued, without any request over ZooKeeper's 1 MiB packet limit: the server would drop the app's only
 * connection, failing every other request in flight and suspending the session.
 */
import { MAX_ID_LENGTH, MAX_IDS_PER_LOCK, encodeNodeName } from '../lib/lock/lock-id';
import { MAX_REQUEST_BYTES } from '../lib/zookeeper/request-size';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, uniqueNamespace } from './support/zookeeper';

// U+00E9 is outside the kept characters: %00e9, 5 bytes per character, the most an id can encode to.
const WIDE = '\u00e9';
const scope = WIDE.repeat(MAX_ID_LENGTH);
const ids = Array.from({ length: MAX_IDS_PER_LOCK }, (_, i) => WIDE.repeat(MAX_ID_LENGTH - 2) + String(i).padStart(2, '0'));

describe('the largest allowed input', () => {
  afterAll(cleanup);

  it('encodes to paths whose sum is over the packet limit for a queued release, so batching is what keeps it under', () => {
    const pathBytes = ids.reduce((sum, id) => sum + encodeNodeName(scope).length + encodeNodeName(id).length, 0);
    // a release of a queued grant removes holder and queue of each id: twice this, over MAX_REQUEST_BYTES
    expect(2 * pathBytes).toBeGreaterThan(MAX_REQUEST_BYTES);
  });

  it.each([
    ['fail-fast', 0],
    ['queued', 5_000],
  ])('is taken and freed %s, the connection never drops, and nothing is left', async (_, wait) => {
    const namespace = uniqueNamespace('largest');
    const zkA = await newService({ namespace, operationTimeout: 10_000, sessionTimeout: 20_000 });
    const zkB = await newService({ namespace, operationTimeout: 10_000, sessionTimeout: 20_000 });
    const [a, b] = [newLockService(zkA), newLockService(zkB)];
    const states: string[] = [];
    const subscription = zkA.state$.subscribe((event) => states.push(event.state));
    // Every request error of either session: an oversized one fails with BAD_ARGUMENTS before it is sent
    // (a fallback would still free the nodes, so only this shows that no request was too large).
    const refused: string[] = [];
    for (const zk of [zkA, zkB]) {
      for (const method of ['multi', 'create', 'remove', 'getData'] as const) {
        const original = (zk[method] as (...args: unknown[]) => Promise<unknown>).bind(zk);
        jest.spyOn(zk, method).mockImplementation(((...args: unknown[]) =>
          original(...args).catch((error: { code?: string }) => {
            refused.push(`${method}: ${error.code}`);
            throw error;
          })) as never);
      }
    }
    try {
      const held = await a.acquire(ids, { scope, wait });
      await expect(b.acquire(ids.slice(-1), { scope })).rejects.toMatchObject({ code: 'LOCK_CONFLICT' });
      expect(await held.fencingToken()).toBeGreaterThan(0n);
      await held.release();
      expect(held.signal.aborted).toBe(false);
      const next = await b.acquire(ids, { scope, wait });
      await next.release();
      const scopeDir = `${namespace}/${encodeNodeName(scope)}`;
      expect((await listTree(zkA, scopeDir)).filter((path) => path !== scopeDir && !path.endsWith('%q'))).toEqual([]);
      expect(states).toEqual(['connected']);
      // (NO_NODE and NODE_EXISTS are the recipe's normal answers: a queue made on first use, a lock held.)
      expect(refused.filter((entry) => !/NO_NODE|NODE_EXISTS/.test(entry))).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  });
});
