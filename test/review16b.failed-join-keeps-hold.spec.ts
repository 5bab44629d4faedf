/**
 * Review 16b: README "Minimum hold time": "With `holdAtLeast`, a lock stays held until that long after it
 * was granted"; "A joined hold (its holdAtLeast included) lives under the limit of the lock it joined".
 * LockService.acquire applies a nested call's holdAtLeast to the locks it joins (part.keepAtLeast) BEFORE
 * it takes the ids its context does not hold, and does not take it back when that take fails. So a nested
 * acquire that is refused (a conflict on its other id: nothing granted, the caller told so) still keeps
 * the outer lock held for its holdAtLeast after the outer holder released it: every other instance is
 * refused that lock for a run that never happened (with @Locked + onConflict 'skip', a skipped tick).
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { cleanup, uniqueNamespace } from './support/zookeeper';
import { lockSide } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review16b');
});
afterEach(cleanup);

it('a refused nested acquire does not keep the joined lock held for its holdAtLeast', async () => {
  const a = await lockSide(namespace);
  const b = await lockSide(namespace);
  const bHeld = await b.lock.acquire('b'); // B holds b: A's nested acquire of [a, b] is refused
  const nested = await a.lock.withLock('a', () =>
    a.lock.acquire(['a', 'b'], { holdAtLeast: 30_000 }).then(
      (handle) => handle.release().then(() => 'granted'),
      (error: Error) => error.constructor.name,
    ),
  );
  expect(nested).toBe('LockConflictError');
  // A's outer holder is done and the nested one got nothing: a is free for B.
  const bTry = await b.lock.acquire('a').then(
    (handle) => handle.release().then(() => 'took it'),
    (error: Error) => (error instanceof LockConflictError ? `refused (A still holds a: heldCount ${a.lock.heldCount})` : String(error)),
  );
  await bHeld.release();
  await a.lock.beforeApplicationShutdown(); // frees what lingers (no 30 s timer left behind)
  expect(bTry).toBe('took it');
});
