/**
 * Review 11: a fail-fast shared acquire (wait 0, shared) joins the group with one MULTI on the live
 * session, and the backend then builds the grant with `sessionId: this.zk.sessionId` - the session live
 * when the MULTI's answer is handled, not the one the member node was made on (ZookeeperLockBackend.acquire,
 * the `wait === 0 && shared` branch). If the session that made the member ends while the answer is on its
 * way and a new session is live when it is handled, the acquire's session check
 * (`this.zk.sessionId !== owned.sessionId`) passes, and the caller is granted a shared lock whose member
 * node is already gone with the old session. Nobody holds the group any more: an exclusive caller takes
 * the lock at once. Two owners (a shared one and an exclusive one), and the shared owner's grant names
 * a session that never owned its node, so the session loss does not report it either.
 */
import { LockConflictError, ZookeeperService } from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import type { ZookeeperGrant } from '../lib/recipes/zookeeper-lock.backend';
import { cleanup, expireSession, newService, sharedConnectString, uniqueNamespace, waitForState } from './support/zookeeper';

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review11');
});
afterEach(async () => {
  await cleanup();
});

const node = (id: string) => `${namespace}/default/${id}`;

type RawMulti = (ops: unknown[], callback: (...reply: unknown[]) => void) => void;

/** Holds back the real reply of the service's next MULTI (the request itself is sent and applied). */
function holdNextMultiReply(zk: ZookeeperService): { arrived: Promise<void>; release(): void } {
  const session = (zk as unknown as { session: { multi: RawMulti } }).session;
  const original = session.multi;
  let arrived!: () => void;
  const seen = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  session.multi = (ops, callback) => {
    session.multi = original;
    original.call(session, ops, (...reply: unknown[]) => {
      arrived();
      void released.then(() => callback(...reply));
    });
  };
  return { arrived: seen, release };
}

it('a shared join whose session ends before its answer is handled grants nothing on the new session', async () => {
  const b = await newService({ namespace, operationTimeout: 10_000 });
  const c = await newService({ namespace });
  const operator = await newService();
  const bBackend = new ZookeeperLockBackend(b);
  const cBackend = new ZookeeperLockBackend(c);
  await operator.mkdirp(`${namespace}/default`);

  // B joins the (not yet existing) group: its MULTI is applied, the reply is held.
  const held = holdNextMultiReply(b);
  const joining = bBackend.acquire({ ids: ['x'], scope: 'default', wait: 0, shared: true }) as Promise<ZookeeperGrant>;
  const outcome = joining.then(
    (grant) => ({ grant }),
    (error: Error) => ({ error }),
  );
  await held.arrived;
  const oldSession = b.sessionId;
  // B's session ends (its member node goes with it) and a new one is live before the reply is handled.
  await expireSession(sharedConnectString(), b);
  await waitForState(b, 'connected');
  expect(b.sessionId).not.toBe(oldSession);
  held.release();
  const result = await outcome;

  let members: string[] = [];
  if ('grant' in result) members = await operator.getChildren(node('x')).catch(() => []);
  // With a shared grant of B's standing, an exclusive caller must be refused.
  const cTry =
    'grant' in result
      ? await cBackend.acquire({ ids: ['x'], scope: 'default', wait: 0 }).then(
          () => 'C took it exclusively',
          (e) => (e instanceof LockConflictError ? 'conflict' : String(e)),
        )
      : 'B was refused';
  expect({
    b: 'grant' in result ? `granted on 0x${result.grant.owner} (was 0x${oldSession}); group members now: [${members.join(', ')}]` : 'refused',
    cTry,
  }).toEqual({ b: 'refused', cTry: 'B was refused' });
});
