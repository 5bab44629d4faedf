/**
 * `hashIds`: lock nodes are named by a keyed hash of the id, so nobody who can list or probe the
 * namespace learns which ids are locked. Locks still exclude each other across instances that share the
 * secret, fail-fast and queued. Real ZooKeeper.
 */
import { LockConflictError } from 'nestjs-zookeeper-lock';
import { resolveOptions } from '../lib/module/zookeeper-lock-options';
import { HashedNames } from '../lib/recipes/hashed-names';
import { newLockService } from './support/locks';
import { cleanup, listTree, newService, uniqueNamespace, waitForChildren } from './support/zookeeper';

const secret = 'a secret of at least sixteen bytes';

describe('hashIds', () => {
  afterAll(cleanup);

  it('names nodes by an HMAC of scope and id; instances with the secret exclude each other, fail-fast and queued', async () => {
    const namespace = uniqueNamespace('hashed');
    const aZk = await newService({ namespace, hashIds: { secret } });
    const a = newLockService(aZk);
    const b = newLockService(await newService({ namespace, hashIds: { secret: Buffer.from(secret) } }));
    const id = 'customer-4711@example.com';
    const held = await a.acquire(id, { scope: 'accounts' });
    await expect(b.acquire(id, { scope: 'accounts' })).rejects.toBeInstanceOf(LockConflictError);
    const waiting = b.acquire(id, { scope: 'accounts', wait: 10_000 });
    const name = new HashedNames(secret).nameOf('accounts', id);
    await waitForChildren(aZk, `${namespace}/accounts/${name}%q`, 1);
    const tree = await listTree(aZk, namespace);
    expect(tree).toContain(`${namespace}/accounts/${name}`);
    expect(name).toMatch(/^h-[A-Za-z0-9_-]{43}$/);
    for (const path of tree) expect(path).not.toContain('customer'); // not in any node name
    await held.release();
    await (await waiting).release();
  });

  it('inspect(id) hashes the id and finds the lock; list can only give the hashed names', async () => {
    const namespace = uniqueNamespace('hashed-inspect');
    const a = newLockService(await newService({ namespace, hashIds: { secret }, ownerName: 'app-a' }));
    const id = 'customer-4711@example.com';
    const held = await a.acquire(id, { scope: 'accounts' });
    expect(await a.inspect(id, { scope: 'accounts' })).toMatchObject({ id, scope: 'accounts', mode: 'exclusive', holders: [{ owner: 'app-a' }] });
    expect(await a.inspect('someone-else', { scope: 'accounts' })).toMatchObject({ mode: 'free' });
    const listed = await a.list({ scope: 'accounts' });
    expect(listed).toEqual([expect.objectContaining({ id: new HashedNames(secret).nameOf('accounts', id), scope: 'accounts', mode: 'exclusive' })]);
    await held.release();
  });

  it('gives one id in two scopes, and distinct ids, unrelated names; a different secret names another lock', () => {
    const names = new HashedNames(secret);
    expect(names.nameOf('a', 'x')).not.toBe(names.nameOf('b', 'x'));
    // Unpaired surrogates are distinct ids (UTF-8 would make them both U+FFFD).
    expect(names.nameOf('s', '\ud800')).not.toBe(names.nameOf('s', '\udc00'));
    // The join cannot be shifted: ("a/b", "c") and ("a", "b/c") are different inputs.
    expect(names.nameOf('a/b', 'c')).not.toBe(names.nameOf('a', 'b/c'));
    expect(new HashedNames(`${secret}!`).nameOf('a', 'x')).not.toBe(names.nameOf('a', 'x'));
  });

  it('refuses a short or missing secret at start-up, without echoing it', () => {
    const short = 'tooshort';
    expect(() => resolveOptions({ connectionString: 'localhost:2181', hashIds: { secret: short } })).toThrow(
      'option `hashIds` secret must be at least 16 bytes, got 8',
    );
    try {
      resolveOptions({ connectionString: 'localhost:2181', hashIds: { secret: short } });
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(() => resolveOptions({ connectionString: 'localhost:2181', hashIds: {} as never })).toThrow(/must be \{ secret: string \| Buffer \}/);
  });
});
