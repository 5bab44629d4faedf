/**
 * Review 16c: resolveOptions (lib/module/zookeeper-lock-options.ts positiveInteger) caps shutdownTimeout
 * at 2^31-1 ms (the longest Node timer) but no other duration. Accepted values then break the service:
 * - connectTimeout 2^31: waitForConnection's setTimeout overflows to 1 ms, so connect() gives up (and
 *   logs "not reachable within 2147483648 ms") before a healthy local server has answered (start-up
 *   goes on as if ZooKeeper were down);
 * - sessionTimeout 2^31: the `unavailable` timer overflows too (state `unavailable` after 1 ms), and the
 *   ConnectRequest's int32 timeOut cannot be serialized: every attempt throws a RangeError in the
 *   socket's connect handler, is dropped as a "protocol error", and the service never connects.
 * Either the options are refused at start-up with a message naming them (as shutdownTimeout is), or they
 * work. (ZooKeeper clamps a session timeout to its maxSessionTimeout anyway.)
 */
import { InvalidZookeeperLockOptionsError } from '../lib/module/zookeeper-lock-options';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { sharedConnectString } from './support/zookeeper';

const services: ZookeeperService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function outcome(options: { connectTimeout?: number; sessionTimeout?: number }): Promise<string> {
  let zk: ZookeeperService;
  try {
    zk = new ZookeeperService({ connectionString: sharedConnectString(), operationTimeout: 2_000, retryDelay: 100, ...options });
  } catch (error) {
    return error instanceof InvalidZookeeperLockOptionsError ? 'refused at start-up' : `threw ${String(error)}`;
  }
  services.push(zk);
  // Whatever the option says, a local server answers within a few ms; look for at most 3 s.
  const connected = await Promise.race([zk.connect(), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000))]);
  if (connected) return 'connected';
  return `connect() gave false (state ${zk.state})`;
}

describe('review16c: durations past the longest Node timer', () => {
  it.each([
    ['connectTimeout', { connectTimeout: 2 ** 31 }],
    ['sessionTimeout', { sessionTimeout: 2 ** 31 }],
  ])('%s 2^31 is refused at start-up or works, never accepted and broken', async (_, options) => {
    const result = await outcome(options);
    console.log(`${JSON.stringify(options)}: ${result}`);
    expect(['refused at start-up', 'connected']).toContain(result);
  });
});
