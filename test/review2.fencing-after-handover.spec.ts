/**
 * Review 2: a released holder whose lock was handed over inside the process still gets fencing tokens.
 *
 * Without a hand-over, `fencingToken()` on a handle that was released (never asked before) rejects with
 * LockLostError: its node is gone. With a hand-over the node stays (the successor took it over), it still
 * carries the first holder's token and our session, so the released handle's look-up finds it "ours":
 * - the first holder (not rewritten) is answered the zxid the node has now: the successor's own token;
 * - a released *inherited* holder (never rewritten) even rewrites the node's data again, so it is given a
 *   token strictly newer than the current holder's, and the current holder's watch fires (a false loss).
 * A stale holder (e.g. work spawned inside the critical section that asks for its token late) must never
 * be given a token >= the current holder's.
 */
import { LockLostError } from 'nestjs-zookeeper-lock';
import { cleanup, uniqueNamespace } from './support/zookeeper';
import { warmSide, nextOffer } from './support/hand-offs';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('r2fence');
});

const side = () => warmSide(namespace);



describe('fencing tokens of released holders after a same-process hand-over', () => {
  it('a released first holder is refused a token (not given the successor\'s)', async () => {
    const { lock, backend } = await side();
    const first = await lock.acquire('f1', { wait: 5_000 });
    const offered = nextOffer(backend);
    const secondTaken = lock.acquire('f1', { wait: 5_000 });
    await offered;
    await first.release();
    const second = await secondTaken; // handed over: the node stays
    const current = await second.fencingToken();
    // The first holder is done; a late look-up (spawned work) must not be told it still holds the lock.
    const stale = await first.fencingToken().then(
      (t) => t,
      (e) => e,
    );
    try {
      expect(stale).toBeInstanceOf(LockLostError);
    } finally {
      // (what it got instead, for the report)
      await second.release();
    }
  });

  it('a released inherited holder is never given a token newer than the current holder\'s, nor aborts it', async () => {
    const { lock, backend } = await side();
    const first = await lock.acquire('f2', { wait: 5_000 });
    let offered = nextOffer(backend);
    const secondTaken = lock.acquire('f2', { wait: 5_000 });
    await offered;
    offered = nextOffer(backend);
    const thirdTaken = lock.acquire('f2', { wait: 5_000 });
    await offered;
    await first.release();
    const second = await secondTaken; // handed over from the first
    await second.release();
    const third = await thirdTaken; // handed over from the second
    const signal = third.signal; // the current holder listens for loss
    const current = await third.fencingToken();
    const stale = await second.fencingToken().then(
      (t) => t,
      (e) => e,
    );
    await new Promise((r) => setTimeout(r, 300)); // let a notification of a change of the node arrive
    const aborted = signal.aborted;
    try {
      expect(typeof stale === 'bigint' && stale >= current).toBe(false);
      expect(aborted).toBe(false);
    } finally {
      await third.release();
    }
  });
});
