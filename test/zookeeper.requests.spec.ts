/**
 * Request-level guarantees of ZookeeperService against a real server: answers that arrived during an
 * event-loop pause are taken (issue 15 item 3); an oversized request is refused before it is sent (item 4).
 */
import { MAX_REQUEST_BYTES } from '../lib/zookeeper/request-size';
import { settleWithin } from '../lib/zookeeper/settle-within';
import { ZookeeperError } from '../lib/zookeeper/zookeeper.error';
import type { MultiOp } from '../lib/zookeeper/zookeeper.service';
import { cleanup, countSocketWrites, newService, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

/** Blocks the event loop, as a long synchronous computation or a GC pause would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else runs, the socket is not read
  }
}

describe('answers that arrived while the event loop was blocked', () => {
  it('resolve the request instead of timing it out (the sweeper reads pending I/O first)', async () => {
    // A session long enough that the pause costs no session loss: only the operation timeout is in play.
    const zk = await newService({ operationTimeout: 2_000, sessionTimeout: 12_000 });
    const answer = zk.exists('/'); // written to the socket now; the answer arrives during the block
    blockEventLoop(3_000);
    await expect(answer).resolves.not.toBeNull();
    expect(zk.state).toBe('connected');
  });

  it('win settleWithin over its timer', async () => {
    const zk = await newService({ operationTimeout: 10_000, sessionTimeout: 12_000 });
    const answer = settleWithin(zk.exists('/'), 2_000, () => {
      throw new Error('no answer within 2000 ms');
    });
    blockEventLoop(3_000);
    await expect(answer).resolves.not.toBeNull();
  });
});

describe('a request larger than the server accepts', () => {
  it('fails at once with BAD_ARGUMENTS and is never sent: unrelated requests in flight succeed, the session stays connected', async () => {
    const zk = await newService();
    const root = uniqueNamespace('big');
    await zk.mkdirp(root);
    const states: string[] = [];
    const subscription = zk.state$.subscribe((e) => states.push(e.state));
    try {
      // 130 creates of 10 kB each: about 1.3 MB in one MULTI, over the server's 1 MiB jute.maxbuffer.
      const ops: MultiOp[] = Array.from({ length: 130 }, (_, i) => ({ op: 'create', path: `${root}/n-${i}`, data: Buffer.alloc(10_000, 1) }));
      const before = zk.exists(root); // in flight ahead of the multi
      const started = performance.now();
      const multi = zk.multi(ops).catch((error) => error);
      const after = zk.getChildren(root); // in flight behind it: the one a dropped connection would fail

      const error = await multi;
      expect(error).toBeInstanceOf(ZookeeperError);
      expect(error.code).toBe('BAD_ARGUMENTS');
      expect(error.message).toMatch(new RegExp(`request of \\d+ bytes exceeds the ${MAX_REQUEST_BYTES}-byte limit`));
      expect(performance.now() - started).toBeLessThan(1_000); // at once, not after a timeout (generous)

      await expect(before).resolves.not.toBeNull();
      await expect(after).resolves.toEqual([]); // nothing of the multi was applied
      // A single create over the limit is refused the same way.
      await expect(zk.create(`${root}/huge`, { data: Buffer.alloc(MAX_REQUEST_BYTES + 1) })).rejects.toMatchObject({ code: 'BAD_ARGUMENTS' });
      expect(await zk.exists(`${root}/huge`)).toBeNull();
      expect(states).toEqual(['connected']); // never suspended: the connection was not dropped
    } finally {
      subscription.unsubscribe();
    }
  });

  it('still sends a request just under the limit', async () => {
    const zk = await newService();
    const root = uniqueNamespace('big');
    await zk.mkdirp(root);
    // ~900 kB of data: under the limit and under the server's own 1 MiB node data cap.
    await zk.create(`${root}/large`, { data: Buffer.alloc(900_000, 2) });
    expect((await zk.getData(`${root}/large`)).data.length).toBe(900_000);
    await zk.remove(`${root}/large`);
  });
});

describe('requests queued in one burst', () => {
  it('leave in two socket writes, the first at once and the rest together, whether queued in one go or by the continuations of one burst', async () => {
    const zk = await newService();
    const { writes, restore } = countSocketWrites(zk);
    try {
      await Promise.all(Array.from({ length: 8 }, () => zk.exists('/')));
      expect(writes.splice(0)).toEqual([1, 7]);
      // As under load: callers woken together, each queuing its next request from its own continuation.
      const woken = Promise.resolve();
      const chains = Array.from({ length: 8 }, async (_, depth) => {
        await woken;
        for (let i = 0; i < depth; i++) await null; // each at another depth of the microtask queue
        return zk.exists('/');
      });
      expect(await Promise.all(chains)).toHaveLength(8);
      expect(writes.splice(0)).toEqual([1, 7]);
      await zk.exists('/'); // a lone request: written at once, on its own
      expect(writes.splice(0)).toEqual([1]);
    } finally {
      restore();
    }
  });
});

describe('requests during close()', () => {
  it('reject as UNAVAILABLE, in the same tick as close() and just after', async () => {
    const zk = await newService();
    const closed = zk.close();
    const sameTick = zk.exists('/').catch((error) => error);
    await Promise.resolve();
    const justAfter = zk.getChildren('/').catch((error) => error);
    await new Promise((resolve) => setImmediate(resolve));
    const aTurnLater = zk.create('/never', { mode: 'ephemeral' }).catch((error) => error);
    for (const outcome of await Promise.all([sameTick, justAfter, aTurnLater])) {
      expect(outcome).toBeInstanceOf(ZookeeperError);
      expect(outcome).toMatchObject({ code: 'UNAVAILABLE' });
      expect(outcome.message).toContain('closing');
    }
    await closed;
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('a write meant for one session (onSession)', () => {
  it('is sent on that session, and refused unsent (SESSION_EXPIRED) on any other, leaving the node alone', async () => {
    const zk = await newService();
    const path = `${uniqueNamespace('on-session')}-node`;
    await zk.create(path, { mode: 'ephemeral' });
    const other = 'ffffffffffffffff'; // a session that is not (any longer) this service's
    await expect(zk.remove(path, 0, other)).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    await expect(zk.multi([{ op: 'remove', path, version: 0 }], other)).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(await zk.exists(path)).not.toBeNull();
    await zk.multi([{ op: 'setData', path, data: Buffer.from('x'), version: 0 }], zk.sessionId);
    await zk.remove(path, 1, zk.sessionId);
    expect(await zk.exists(path)).toBeNull();
  });
});
