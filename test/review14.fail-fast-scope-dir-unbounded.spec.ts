/**
 * Review 14: README ("Bounded answers"): "A fail-fast acquire answers (taken, 409 or 503) within
 * `operationTimeout`". acquireFailFast makes the scope dir first (`ensureDir`: a mkdirp, one create per
 * path component, one after the other) and only then computes its deadline (`performance.now() +
 * operationTimeout`). Each of those requests may take up to an operation timeout of its own, so the first
 * lock of a scope (after start-up, after the 1,000-scope cache is cleared, or after the scope dir was
 * removed) against a slow (not frozen) server answers several operation timeouts late. Here three real
 * replies (the two creates of the mkdirp of the scope dir, then the holder's create) each come 600 ms late
 * with a 1 s operation timeout: every single request is answered in time, the acquire is not.
 */
import { LockService } from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ClientFaults } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';
import { drainJanitor } from './support/locks';

afterAll(cleanup);

it('answers the first fail-fast acquire of a scope within one operationTimeout when the server is slow', async () => {
  const namespace = uniqueNamespace('r14-scope');
  const operationTimeout = 1_000;
  const zk = await newService({ namespace, operationTimeout });
  const backend = new ZookeeperLockBackend(zk);
  await backend.onApplicationBootstrap(); // the namespace is made at start-up, as in an application
  const lock = new LockService(backend);
  const faults = new ClientFaults(zk);
  const slow = 600; // every one of these answers arrives well within operationTimeout
  faults.delayReply('create', namespace, slow); // mkdirp of the scope dir: the namespace (NODE_EXISTS)
  faults.delayReply('create', `${namespace}/jobs`, slow); // ... then the scope dir
  faults.delayReply('create', `${namespace}/jobs/nightly`, slow); // the holder
  const started = performance.now();
  // The answer (the lock, or LockUnavailableError: 1.8 s of replies cannot fit in 1 s) comes in time.
  const answer = await lock.acquire('nightly', { scope: 'jobs' }).then(
    async (handle) => (await handle.release(), 'taken'),
    (error: Error) => error.constructor.name,
  );
  const tookMs = Math.round(performance.now() - started);
  faults.restore();
  expect(['taken', 'LockUnavailableError']).toContain(answer);
  expect(tookMs).toBeLessThanOrEqual(operationTimeout + 400); // 400 ms of slack for a loaded machine (unbounded: ~1850)
  // Nothing of it is left: a holder node made late would be ours to remove (none was sent here).
  await drainJanitor(backend);
  expect(await zk.exists(`${namespace}/jobs/nightly`)).toBeNull();
});
