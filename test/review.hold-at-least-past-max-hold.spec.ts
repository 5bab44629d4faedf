/**
 * review2 finding: a nested acquire that JOINS a held lock with `holdAtLeast` keeps that lock past the
 * lock's own `maxHold` (README: "a lock is never held longer than that"). The nested call's
 * holdAtLeast is validated against the nested call's maxHold (here the default, Infinity), not against
 * the joined lock's, and unhold() clears the maxHold timer before lingering.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

it('a joined holdAtLeast never keeps a lock past its maxHold', async () => {
  const namespace = uniqueNamespace('r2-maxhold');
  const a = newLockService(await newService({ namespace }));
  const b = newLockService(await newService({ namespace }));
  const maxHold = 1_000;
  let grantedAt = 0;
  await a.withLock(
    'job',
    async () => {
      grantedAt = performance.now();
      // A nested call (a helper, a library) joins the held lock and asks to keep it 3 s from its join.
      await a.withLock('job', () => undefined, { holdAtLeast: 3_000 });
    },
    { maxHold },
  );
  // Wait until well past maxHold after the grant (the lock's holders finished long before).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, grantedAt + maxHold + 500 - performance.now())));
  // maxHold has passed: nobody may hold this lock any more. B must get it at once.
  let conflict: unknown;
  const theirs = await b.acquire('job').catch((error) => {
    conflict = error;
    return undefined;
  });
  await theirs?.release();
  expect(conflict).not.toBeInstanceOf(LockConflictError);
  expect(a.heldCount).toBe(0);
});
