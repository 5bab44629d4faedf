/**
 * A nested acquire that joins a held id and still has to take another one holds the joined lock
 * (part.hold()) but is not counted among the "joinable" handles until its `take` returns. If the owner
 * releases during that take, the count drops to 0 and the AsyncLocalStorage is disabled, although the
 * spawned context still holds a live lock. `scopeJoined` then counts the new handle but never re-enables
 * the storage, so a further nested acquire on the held id in that same context does not join: it
 * conflicts with its own lock (fail-fast: LockConflictError; with `wait`: self-deadlock), and
 * currentLock() there is undefined.
 */
import type { LockHandle } from 'nestjs-zookeeper-lock';
import { lockSide } from './support/locks';
import { joinableHandles, lockScope } from '../lib/lock/lock-scope';
import { cleanup, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review7-join');
});

const locks = () => lockSide(namespace);

describe('review7: a join still taking its other ids when the owner leaves', () => {
  it('keeps the spawned context able to join the lock it holds', async () => {
    const { lock } = await locks();
    await lock.withLock(['warm-a', 'warm-b'], () => undefined); // parents exist
    let spawned!: Promise<{ again: LockHandle | Error; sawStore: boolean }>;
    await lock.withLock('a', () => {
      // Spawned, not awaited: joins 'a' at once, takes 'b' from ZooKeeper (a round trip), while the
      // owner returns and releases its own hold right away.
      spawned = (async () => {
        const both = await lock.acquire(['a', 'b']);
        const sawStore = lockScope.getStore() !== undefined;
        // Still inside the context that holds 'a' (via `both`): this must join, not conflict.
        const again = await lock.acquire('a').catch((e: Error) => e);
        if (!(again instanceof Error)) await again.release();
        await both.release();
        return { again, sawStore };
      })();
    });
    const { again, sawStore } = await spawned;
    expect(again).not.toBeInstanceOf(Error); // fails with LockConflictError: it conflicted with its own lock
    expect(sawStore).toBe(true);
    expect(lock.heldCount).toBe(0);
    expect(joinableHandles()).toBe(0);
  });
});
