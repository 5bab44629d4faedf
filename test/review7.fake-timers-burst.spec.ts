/**
 * writeCoalescer uncorks the socket from `process.nextTick`. Under Jest's default fake timers
 * (`jest.useFakeTimers()` fakes process.nextTick too), that tick never comes unless the test advances
 * the clock: the second request of any burst stays corked and never reaches ZooKeeper, so e.g. two
 * concurrent withLock calls hang. Before the coalescer, requests on a connected session were answered
 * under fake timers (only their timeouts were frozen). An app's own integration tests commonly fake timers
 * (maxHold, holdAtLeast, @Locked schedules) while talking to a real ZooKeeper.
 */
import { lockSide } from './support/locks';
import { cleanup, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

let namespace: string;
beforeEach(() => {
  namespace = uniqueNamespace('review7-fake');
});

const locks = () => lockSide(namespace);

describe('review7: requests of one burst under fake timers', () => {
  const realTimeout = setTimeout;
  const within = <T>(ms: number, work: Promise<T>) =>
    Promise.race([work.then(() => 'answered'), new Promise<string>((r) => realTimeout(() => r('hung'), ms))]);
  afterEach(() => jest.useRealTimers());

  it('are answered without the test advancing the fake clock (raw requests)', async () => {
    const { zk } = await locks();
    jest.useFakeTimers();
    expect(await within(1_500, Promise.all([zk.exists('/'), zk.exists('/')]))).toBe('answered');
  });

  it('are answered without the test advancing the fake clock (two concurrent withLock)', async () => {
    const { lock } = await locks();
    await lock.withLock(['warm-a', 'warm-b'], () => undefined); // parents exist
    jest.useFakeTimers();
    const both = Promise.all([lock.withLock('a', () => 1), lock.withLock('b', () => 2)]);
    expect(await within(1_500, both)).toBe('answered');
  });
});
