/**
 * Review 16b: a waiting limited acquire whose session ends while it waits joins again on the new session
 * (acquireLimited: `own` still names the old session, so the join goes through the session-change branch).
 * That join's create gets no reply (it was applied). The catch records the doubtful session only when
 * `own === undefined`, which it is not here, so the next join creates a second slot without looking for
 * the first and without `strayPossible`. The first slot (B's token, B's live session) is filtered out of
 * B's own position (slotPosition skips our token) but counts for everybody else, and B's grant names no
 * `strays`: after B's release it stays the first slot and HOLDS the limit-1 lock while B's session lives.
 */

import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';
import { backendSide, drainJanitor, restoreSideFaults } from './support/locks';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review16b');
});
afterEach(async () => {
  restoreSideFaults();
  await cleanup();
});

const slots = (id: string) => `${namespace}/default/${id}%l`;

it('a limited waiter whose rejoin on a new session gets no reply leaves no stray slot behind its release', async () => {
  const o = await backendSide(namespace);
  const b = await backendSide(namespace);
  const c = await backendSide(namespace);
  const operator = await newService();

  const held = await o.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 });
  const pending = b.backend.acquire({ ids: ['t'], scope: 'default', wait: 30_000, limit: 1 }) as Promise<ZookeeperGrant>;
  await waitForChildren(operator, slots('t'), 2);

  // When B's new session is live (before B's loop sees it), its next slot create loses its reply.
  const oldSession = b.zk.sessionId;
  let lost: Promise<void> | undefined;
  let armed!: () => void;
  const rejoining = new Promise<void>((resolve) => (armed = resolve));
  const sub = b.zk.state$.subscribe((e) => {
    if (e.state === 'connected' && e.sessionId !== oldSession && lost === undefined) {
      lost = b.faults.loseReply('create', (path) => path.startsWith(`${slots('t')}/l1-`));
      armed();
    }
  });
  await expireSession(sharedConnectString(), b.zk);
  await rejoining;
  sub.unsubscribe();
  await lost; // the rejoin's create was applied; its caller got CONNECTION_LOSS
  // (Before the fix B then created a second slot without looking for the first: 3 children here.)
  await waitForChildren(operator, slots('t'), 2);

  await o.backend.release(held);
  const grant = await pending;
  await b.backend.release(grant);
  await drainJanitor(b.backend);

  const left = await operator.getChildren(slots('t')).catch(() => []);
  const cTry = await c.backend.acquire({ ids: ['t'], scope: 'default', wait: 0, limit: 1 }).then(
    (g) => c.backend.release(g).then(() => 'took it'),
    (e: Error) => e.constructor.name,
  );
  expect({ left, cTry }).toEqual({ left: [], cTry: 'took it' });
});
