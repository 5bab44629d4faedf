import { loadGuardedClient } from '../../lib/zookeeper/zookeeper-client.guard';
import { zookeeperCodeName } from '../../lib/zookeeper/zookeeper.error';

describe('node-zookeeper-client guard', () => {
  it('turns a server code unknown to the client into an exception instead of a throw in the socket handler', () => {
    loadGuardedClient();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Exception = require('node-zookeeper-client/lib/Exception.js');
    const throttled = Exception.create(-127);
    expect(throttled.getCode()).toBe(Exception.SYSTEM_ERROR);
    expect(throttled.unknownCode).toBe(-127);
    expect(zookeeperCodeName(throttled.unknownCode)).toBe('THROTTLED_OP');
    expect(Exception.create(Exception.NO_NODE).getName()).toBe('NO_NODE');
  });

  it('drops watch notifications of types the client cannot dispatch', () => {
    loadGuardedClient();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const WatcherManager = require('node-zookeeper-client/lib/WatcherManager.js');
    expect(() => new WatcherManager().emit({ type: 7, path: '/x' })).not.toThrow();
  });
});
