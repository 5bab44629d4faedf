/**
 * review2 finding: a persistent node at a holder path that removeSquatter cannot remove (it has a child,
 * or its ACL refuses our probe's create) makes a waiting acquire spin: waitForRemoval calls
 * removeSquatter, ignores its failure and returns 'changed' at once, so the loop lists the queue, tries
 * the holder, reads it and sends the probe MULTI again, with a warning line each time, back to back
 * until the deadline (for ever for a Leadership): a flood of requests and log lines, not a wait.
 */
import { Logger } from '@nestjs/common';
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterAll(cleanup);

it('waits, rather than spins, behind a squatter it cannot remove', async () => {
  const namespace = uniqueNamespace('r2-squat');
  const zk = await newService({ namespace });
  const locks = newLockService(zk);
  const operator = await newService();
  const holder = `${namespace}/default/job`;
  await operator.mkdirp(`${holder}/left-by-hand`); // a persistent node with a child where the holder belongs
  const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  const multis = jest.spyOn(zk, 'multi');
  try {
    const outcome = await locks.acquire('job', { wait: 2_000 }).then(
      (handle) => handle.release().then(() => 'granted'),
      (error) => (error instanceof LockConflictError ? 'conflict' : String(error)),
    );
    expect(outcome).toBe('conflict');
    const removals = multis.mock.calls.filter(([ops]) => ops.some((op) => op.op === 'remove' && op.path === holder)).length;
    const warnings = warn.mock.calls.filter(([message]) => String(message).includes("Removing")).length;
    expect({ removals, warnings }).toMatchObject({ removals: expect.any(Number) });
    // A bounded number of attempts in 2 s (the fail-fast path tries once a minute).
    expect(removals).toBeLessThanOrEqual(5);
  } finally {
    warn.mockRestore();
    multis.mockRestore();
  }
});
