/**
 * Another tenant of the same ZooKeeper tries to break the locks: squatting the namespace or a scope dir
 * under an ACL of its own, deleting a held holder node, planting persistent holder and waiter nodes.
 * Real ZooKeeper; the stranger is a session with other credentials.
 */
import { Logger } from '@nestjs/common';
import { LockConflictError, LockLostError, LockService, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperHealthIndicator } from '../lib/health/zookeeper.health';
import { aclPolicy, describeAclEntry, digestId, foreignEntries } from '../lib/recipes/namespace-acl';
import { LockContext } from '../lib/recipes/lock-context';
import { ClientFaults, CODES } from './support/client-faults';
import { NodeJanitor } from '../lib/recipes/node-janitor';
import { newLockService } from './support/locks';
import { cleanup, newService, uniqueNamespace, waitForGone } from './support/zookeeper';

const app = { auth: 'app:app-password', acl: 'creator' as const };
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => (signal.aborted ? resolve(signal.reason) : signal.addEventListener('abort', () => resolve(signal.reason))));

describe('against another tenant of the ZooKeeper', () => {
  afterAll(cleanup);

  it('refuses to lock under a namespace a stranger made open (503, error log once, health down), and recovers once it is ours', async () => {
    const namespace = uniqueNamespace('tenant');
    const stranger = await newService({ auth: 'evil:x' });
    await stranger.create(namespace); // world:anyone:cdrwa, before the app ever ran
    const zk = await newService({ namespace, ...app });
    const locks = newLockService(zk);
    const refused = await locks.acquire('acct-1').catch((e) => e);
    expect(refused).toBeInstanceOf(LockUnavailableError);
    expect(refused.message).toContain(`Lock directory ${namespace} has an ACL that lets others create, delete or administer in it (world:anyone:cdrwa)`);
    await expect(locks.acquire('acct-1', { wait: 1000 })).rejects.toBeInstanceOf(LockUnavailableError);
    const health = await new ZookeeperHealthIndicator(zk).isHealthy('zk');
    expect(health.zk).toMatchObject({ status: 'down', message: expect.stringContaining(namespace) });
    // The squat is removed (here by the stranger itself; in real life by an operator): the app makes the
    // namespace with its own ACL on its next use, and is healthy again.
    await stranger.remove(namespace);
    await locks.withLock('acct-1', () => undefined);
    expect(await zk.getAcl(namespace)).toEqual([{ scheme: 'digest', id: digestId(app.auth), permissions: 31 }]);
    expect((await new ZookeeperHealthIndicator(zk).isHealthy('zk')).zk.status).toBe('up');
  });

  it('refuses a scope dir that another deployment made open under our namespace', async () => {
    const namespace = uniqueNamespace('tenant');
    const strict = newLockService(await newService({ namespace, ...app }));
    await strict.withLock('x', () => undefined, { scope: 'orders' }); // the namespace is ours
    // Same credentials, but `acl: 'open'` (an old deployment): it makes the `accounts` scope dir open.
    await newLockService(await newService({ namespace, auth: app.auth })).withLock('x', () => undefined, { scope: 'accounts' });
    await expect(strict.acquire('x', { scope: 'accounts' })).rejects.toThrow(
      `Lock directory ${namespace}/accounts has an ACL that lets others create, delete or administer in it (world:anyone:cdrwa)`,
    );
    await strict.withLock('x', () => undefined, { scope: 'orders' }); // other scopes are fine
  });

  it('with acl creator, a stranger can neither delete a held lock, nor swap the scope dir, nor squat an id', async () => {
    const namespace = uniqueNamespace('tenant');
    const locks = newLockService(await newService({ namespace, ...app }));
    const stranger = await newService({ auth: 'evil:x' });
    const held = await locks.acquire('acct-1', { scope: 'accounts' });
    const scope = `${namespace}/accounts`;
    await expect(stranger.remove(`${scope}/acct-1`)).rejects.toMatchObject({ code: 'NO_AUTH' });
    await expect(stranger.create(`${scope}/acct-2`, { mode: 'ephemeral' })).rejects.toMatchObject({ code: 'NO_AUTH' });
    await expect(stranger.create(`${namespace}/other`)).rejects.toMatchObject({ code: 'NO_AUTH' });
    await held.release();
    await expect(stranger.remove(scope)).rejects.toMatchObject({ code: 'NO_AUTH' }); // empty now, still not theirs
  });

  it('never locks under a namespace a stranger swapped between its check and the first scope dir (review finding F3)', async () => {
    // The namespace's parent (here the open root) lets anyone delete the namespace while it is empty, and
    // re-create it open; then, under it, delete an idle scope dir and re-create it open too.
    const namespace = uniqueNamespace('tenant');
    const zk = await newService({ namespace, ...app });
    const backend = new ZookeeperLockBackend(zk);
    await backend.onApplicationBootstrap(); // start-up: the namespace is made with our ACL and checked
    const locks = new LockService(backend, zk.options);
    const stranger = await newService({ auth: 'evil:x' });
    await stranger.remove(namespace);
    await stranger.create(namespace); // world:anyone:cdrwa

    const refused = await locks.acquire('x').catch((e) => e);
    expect(refused).toBeInstanceOf(LockUnavailableError);
    expect(refused.message).toContain(`Lock directory ${namespace} has an ACL that lets others create, delete or administer in it`);
    // Its scope dir was made inside the stranger's namespace before the second look: an idle one, so the
    // stranger swaps it too; nothing is ever granted in either.
    const scopeDir = `${namespace}/default`;
    await stranger.remove(scopeDir).catch(() => undefined);
    await stranger.create(scopeDir).catch(() => undefined);
    await expect(locks.acquire('x')).rejects.toBeInstanceOf(LockUnavailableError);
    await expect(locks.acquire('y', { scope: 'other' })).rejects.toBeInstanceOf(LockUnavailableError);

    // Once the squat is gone, the namespace is made ours again and locks work, with no restart.
    for (const path of await stranger.getChildren(namespace)) await stranger.remove(`${namespace}/${path}`);
    await stranger.remove(namespace);
    await locks.withLock('x', () => undefined);
    expect(await zk.getAcl(scopeDir)).toEqual([{ scheme: 'digest', id: digestId(app.auth), permissions: 31 }]);
    await expect(stranger.remove(scopeDir)).rejects.toMatchObject({ code: 'NO_AUTH' });
  });

  it('aborts a holder whose node someone else deleted, at once (a watch, set when the signal is read)', async () => {
    const namespace = uniqueNamespace('tenant');
    const zk = await newService({ namespace }); // acl open: anyone may delete
    const locks = newLockService(zk);
    const stranger = await newService();
    const held = await locks.acquire('acct-1');
    const signal = held.signal;
    await zk.exists('/'); // answered after the watch's read (one connection, in order): the watch is set
    await stranger.remove(`${namespace}/default/acct-1`);
    const reason = await aborted(signal);
    expect(reason).toBeInstanceOf(LockLostError);
    expect((reason as Error).message).toContain('was deleted or changed by someone else');
    await held.release();
    // Our own release fires no loss.
    const again = await locks.acquire('acct-1');
    const ownSignal = again.signal;
    await again.release();
    await locks.withLock('acct-1', () => undefined);
    expect(ownSignal.aborted).toBe(false);
  });

  it('aborts such a holder also when the first read of its watch met a connection blip (read again, review finding F2)', async () => {
    const namespace = uniqueNamespace('tenant');
    const holder = `${namespace}/default/acct-1`;
    const zk = await newService({ namespace });
    const locks = newLockService(zk);
    const stranger = await newService();
    await locks.withLock('warm', () => undefined); // the scope dir exists: the next requests are the lock's
    const faults = new ClientFaults(zk);
    try {
      let failures = 0;
      let failed!: () => void;
      const watchReadsFailed = new Promise<void>((resolve) => (failed = resolve));
      // Both reads that could set the watch meet a blip while the session lives on: the one sent behind the
      // create, then the one reading the signal makes when the first vouches for nothing.
      faults.answerWith('getData', holder, CODES.CONNECTION_LOSS, 2, () => ++failures === 2 && failed());
      const held = await locks.acquire('acct-1');
      const signal = held.signal;
      await watchReadsFailed;
      expect(zk.state).toBe('connected');
      await stranger.remove(holder);
      const reason = await aborted(signal);
      expect(reason).toBeInstanceOf(LockLostError);
      await held.release();
    } finally {
      faults.restore();
    }
  });

  it('removes persistent holder and waiter nodes a stranger planted, so they never block an id for ever', async () => {
    const namespace = uniqueNamespace('tenant');
    const zk = await newService({ namespace });
    const locks = newLockService(zk);
    const stranger = await newService();
    await locks.withLock('warm', () => undefined); // namespace and scope dir exist
    const holder = `${namespace}/default/acct-1`;
    await stranger.create(holder, { data: Buffer.from('not a token') }); // persistent
    // Fail-fast: the read sent with the create saw a persistent node where only a lock belongs: it is
    // removed and the lock taken in one MULTI (which fails, removing nothing, if it were a live lock).
    const taken = await locks.acquire('acct-1');
    expect((await zk.exists(holder))?.ephemeralOwner).toBe(zk.sessionId);
    await taken.release();
    // A persistent fake waiter ahead in the queue: a waiting acquire removes it and takes the lock in time.
    await stranger.create(`${holder}%q`);
    await stranger.create(`${holder}%q/w-0123456789abcdef1-`, { mode: 'persistent-sequential' });
    await stranger.create(holder); // and a persistent holder again
    const lock = await locks.acquire('acct-1', { wait: 10_000 });
    expect(await zk.getChildren(`${holder}%q`)).toHaveLength(1); // ours alone
    await lock.release();
  });

  it('never deletes a live lock when two instances remove the same squatter (a late remove at version 0)', async () => {
    // Found by review: a squatter and a fresh ephemeral holder are both at version 0, so a remove at the
    // version read, arriving late, deleted the lock someone took after the squatter went.
    const namespace = uniqueNamespace('tenant');
    const holder = `${namespace}/default/acct-1`;
    const [a, b, c, stranger] = await Promise.all([newService({ namespace }), newService({ namespace }), newService({ namespace }), newService()]);
    const [locksB, locksC] = [newLockService(b), newLockService(c)];
    await locksB.withLock('warm', () => undefined); // makes the scope dir
    await stranger.create(holder, { data: Buffer.from('squatter') }); // persistent, version 0
    const contextA = new LockContext(a, new NodeJanitor(a, new Logger('test')), new Logger('test'));
    const { stat } = await a.getData(holder); // A reads the squatter: persistent, version 0 ...

    // ... while B meets it too, removes it and takes the lock (one MULTI), watching its node.
    const heldByB = await locksB.acquire('acct-1');
    const signalB = heldByB.signal;
    await b.exists('/'); // the watch is set
    expect((await stranger.exists(holder))?.ephemeralOwner).toBe(b.sessionId);

    await contextA.removeSquatter(holder, stat.version); // A's removal arrives only now
    expect((await stranger.exists(holder))?.ephemeralOwner).toBe(b.sessionId); // B's lock survives
    await expect(locksC.acquire('acct-1')).rejects.toBeInstanceOf(LockConflictError);
    expect(signalB.aborted).toBe(false);
    await heldByB.release();
  });

  it('decides ACLs without a server: open checks nothing; creator admits only our digest', () => {
    expect(aclPolicy('open', [])).toBeUndefined();
    const policy = aclPolicy('creator', ['app:pw'])!;
    const ours = { scheme: 'digest', id: digestId('app:pw'), permissions: 31 };
    const world = { scheme: 'world', id: 'anyone', permissions: 31 };
    const readers = { scheme: 'world', id: 'anyone', permissions: 1 };
    const writer = { scheme: 'ip', id: '10.0.0.1', permissions: 2 | 8 };
    expect(foreignEntries([ours, readers], policy)).toEqual([]); // read lets no one break a lock
    expect(foreignEntries([ours, world, writer], policy)).toEqual([world, writer]);
    expect(describeAclEntry(writer)).toBe('ip:10.0.0.1:dw');
    expect(describeAclEntry(ours)).toBe('digest:app:<hash>:cdrwa');
    const explicit = aclPolicy([{ scheme: 'ip', id: '10.0.0.1', permissions: ['delete', 'write'] }, { scheme: 'auth', id: '', permissions: ['all'] }], ['app:pw'])!;
    expect(foreignEntries([ours, writer], explicit)).toEqual([]);
  });
});
