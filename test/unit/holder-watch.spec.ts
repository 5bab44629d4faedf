import { HolderWatch, watchesVouch } from '../../lib/recipes/holder-watch';
import type { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';

const now = { epoch: 3, connected: true, sessionId: 's1' };
const armed = { state: 'armed' as const, epoch: 3 };

describe('watchesVouch (may a release delete without reading?)', () => {
  it('only when every holder has an armed watch of the live connection and session', () => {
    expect(watchesVouch([armed], 1, now, 's1')).toBe(true);
    expect(watchesVouch([armed, armed], 2, now, 's1')).toBe(true);
  });
  it('not after a reconnect, a fired or failed watch, a missing one, or another session', () => {
    expect(watchesVouch([{ state: 'armed', epoch: 2 }], 1, now, 's1')).toBe(false);
    expect(watchesVouch([{ state: 'fired', epoch: 3 }], 1, now, 's1')).toBe(false);
    expect(watchesVouch([{ state: 'unarmed', epoch: 3 }], 1, now, 's1')).toBe(false);
    expect(watchesVouch([{ state: 'pending', epoch: 3 }], 1, now, 's1')).toBe(false);
    expect(watchesVouch([armed], 2, now, 's1')).toBe(false);
    expect(watchesVouch(undefined, 1, now, 's1')).toBe(false);
    expect(watchesVouch([armed], 1, { ...now, connected: false }, 's1')).toBe(false);
    expect(watchesVouch([armed], 1, now, 's2')).toBe(false);
  });
});

describe('HolderWatch', () => {
  /** A ZookeeperService stand-in whose getData answer the test releases by hand (no server involved). */
  function fakeZk() {
    let answer!: (value: { data: Buffer; stat: { ephemeralOwner: string; version: number; mzxid: bigint } }) => void;
    const zk = {
      connectionEpoch: 7,
      getData: () => new Promise((resolve) => (answer = resolve)),
      unwatch: jest.fn(),
    } as unknown as ZookeeperService;
    return { zk, answer: (owner: string) => answer({ data: Buffer.from('tok 1 me'), stat: { ephemeralOwner: owner, version: 0, mzxid: 42n } }) };
  }

  it('arms on our node and tells its listener once when it fires', async () => {
    const { zk, answer } = fakeZk();
    const { watch, settled } = HolderWatch.sendRead(zk, '/l/a', 'tok', () => 's1');
    answer('s1');
    await settled;
    expect([watch.state, watch.epoch, watch.mzxid]).toEqual(['armed', 7, 42n]);
    const told = jest.fn();
    watch.listen(told);
    watch.callback();
    watch.callback();
    expect(told).toHaveBeenCalledTimes(1);
    expect(watch.state).toBe('fired');
  });

  it('never arms when the notification came before the read was handled (both in one chunk)', async () => {
    const { zk, answer } = fakeZk();
    const { watch, settled } = HolderWatch.sendRead(zk, '/l/a', 'tok', () => 's1');
    answer('s1');
    watch.callback(); // handled before the read's promise callback ran
    await settled;
    expect(watch.state).toBe('fired');
  });

  it('does not arm on a node of another session, and takes its watch back', async () => {
    const { zk, answer } = fakeZk();
    const { watch, settled } = HolderWatch.sendRead(zk, '/l/a', 'tok', () => 's1');
    answer('s2');
    await settled;
    expect(watch.state).toBe('unarmed');
    expect(zk.unwatch).toHaveBeenCalledWith('/l/a', watch.callback);
  });

  it('calls a listener attached after it fired, soon', async () => {
    const { zk, answer } = fakeZk();
    const { watch, settled } = HolderWatch.sendRead(zk, '/l/a', 'tok', () => 's1');
    answer('s1');
    await settled;
    watch.callback();
    const reason = await new Promise((resolve) => watch.listen(resolve));
    expect(reason).toMatch(/deleted or changed/);
  });
});
