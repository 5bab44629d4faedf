/**
 * MULTI with a CONTAINER create among its ops (multi-request.ts): the uncontended waiting acquire makes a
 * lock's queue, its waiter and its holder in one atomic request. Real server (container reaping every
 * second in the harness).
 */
import { ZookeeperError } from '../lib/zookeeper/zookeeper.error';
import { cleanup, newService, uniqueNamespace, waitForGone } from './support/zookeeper';

afterEach(cleanup);

describe('multi with a container create', () => {
  it('creates a container, a sequential child and a sibling atomically; the container is reaped once emptied', async () => {
    const zk = await newService();
    const root = uniqueNamespace('multi-container');
    await zk.mkdirp(root);
    const results = await zk.multi([
      { op: 'create', path: `${root}/q`, mode: 'container' },
      { op: 'create', path: `${root}/q/w-`, mode: 'ephemeral-sequential', data: Buffer.from('t') },
      { op: 'create', path: `${root}/h`, mode: 'ephemeral', data: Buffer.from('t') },
    ]);
    expect(results).toEqual([
      { op: 'create', path: `${root}/q` },
      { op: 'create', path: `${root}/q/w-0000000000` },
      { op: 'create', path: `${root}/h` },
    ]);
    expect((await zk.exists(`${root}/h`))?.ephemeralOwner).toBe(zk.sessionId);
    expect(zk.state).toBe('connected'); // the Create2Response inside the multi was decoded, not a reason to drop

    // The queue exists: the same multi fails on its first op and makes nothing.
    const failure = await zk
      .multi([
        { op: 'create', path: `${root}/q`, mode: 'container' },
        { op: 'create', path: `${root}/q/w-`, mode: 'ephemeral-sequential' },
        { op: 'create', path: `${root}/h2`, mode: 'ephemeral' },
      ])
      .catch((e) => e);
    expect(failure).toBeInstanceOf(ZookeeperError);
    expect(failure).toMatchObject({ code: 'NODE_EXISTS', opIndex: 0 });
    expect(await zk.getChildren(`${root}/q`)).toEqual(['w-0000000000']);
    expect(await zk.exists(`${root}/h2`)).toBeNull();

    // A container made in a multi is a container: the server deletes it once its child is gone.
    await zk.multi([{ op: 'remove', path: `${root}/q/w-0000000000`, version: 0 }, { op: 'remove', path: `${root}/h`, version: 0 }]);
    await waitForGone(zk, `${root}/q`);
  });

  it('sets data at an exact version, 0 included', async () => {
    const zk = await newService();
    const root = uniqueNamespace('multi-setdata');
    await zk.mkdirp(root);
    await zk.create(`${root}/n`, { data: Buffer.from('a') });
    await zk.multi([{ op: 'setData', path: `${root}/n`, data: Buffer.from('b'), version: 0 }]);
    await expect(zk.multi([{ op: 'setData', path: `${root}/n`, data: Buffer.from('c'), version: 0 }])).rejects.toMatchObject({ code: 'BAD_VERSION' });
    const { data, stat } = await zk.getData(`${root}/n`);
    expect([data.toString(), stat.version]).toEqual(['b', 1]);
  });
});
