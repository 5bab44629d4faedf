/** The janitor: background removal of nodes we own, on a real server, with faults at the client layer. */
import { Logger } from '@nestjs/common';
import { NodeJanitor } from '../lib/recipes/node-janitor';
import { backoffFloor } from '../lib/recipes/backoff';
import { ClientFaults, CODES } from './support/client-faults';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

describe('NodeJanitor', () => {
  it('backs off with growing pauses while the server answers THROTTLED_OP, then removes the node (issue 11, item 15)', async () => {
    const zk = await newService();
    const namespace = uniqueNamespace('janitor');
    await zk.mkdirp(namespace);
    const path = `${namespace}/held`;
    const token = 'janitor-token';
    await zk.create(path, { data: Buffer.from(token), mode: 'ephemeral' });
    const faults = new ClientFaults(zk);
    const answeredAt: number[] = [];
    faults.answerWith('getData', path, CODES.THROTTLED_OP, 4, () => answeredAt.push(performance.now()));
    try {
      await new NodeJanitor(zk, new Logger('test')).removeOwned([path], token, zk.sessionId as string);
    } finally {
      faults.restore();
    }
    expect(await zk.exists(path)).toBeNull();
    expect(answeredAt).toHaveLength(4); // four throttled tries, the fifth went through
    // Each retry came no sooner than its backoff's floor (timers never fire early; 1 ms for rounding),
    // and the floors double: without backoff these gaps are a few microseconds.
    for (let i = 1; i < answeredAt.length; i++) {
      expect(answeredAt[i] - answeredAt[i - 1]).toBeGreaterThanOrEqual(backoffFloor(i - 1) - 1);
    }
    expect(backoffFloor(2)).toBe(2 * backoffFloor(1));
  });

  it('never removes a node that carries another token or belongs to another session', async () => {
    const zk = await newService();
    const other = await newService();
    const namespace = uniqueNamespace('janitor');
    await zk.mkdirp(namespace);
    await other.create(`${namespace}/theirs`, { data: Buffer.from('t'), mode: 'ephemeral' });
    await zk.create(`${namespace}/other-token`, { data: Buffer.from('u'), mode: 'ephemeral' });
    await new NodeJanitor(zk, new Logger('test')).removeOwned([`${namespace}/theirs`, `${namespace}/other-token`], 't', zk.sessionId as string);
    expect(await zk.exists(`${namespace}/theirs`)).not.toBeNull();
    expect(await zk.exists(`${namespace}/other-token`)).not.toBeNull();
  });
});
