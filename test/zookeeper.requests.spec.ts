/**
 * Request-level guarantees of ZookeeperService against a real server: answers that arrived during an
 * event-loop pause are taken (issue 15 item 3).
 */
import { settleWithin } from '../lib/zookeeper/settle-within';
import { cleanup, newService } from './support/zookeeper';

afterEach(cleanup);

/** Blocks the event loop, as a long synchronous computation or a GC pause would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else runs, the socket is not read
  }
}

describe('answers that arrived while the event loop was blocked', () => {
  it('resolve the request instead of timing it out (the sweeper reads pending I/O first)', async () => {
    // A session long enough that the pause costs no session loss: only the operation timeout is in play.
    const zk = await newService({ operationTimeout: 2_000, sessionTimeout: 12_000 });
    const answer = zk.exists('/'); // written to the socket now; the answer arrives during the block
    blockEventLoop(3_000);
    await expect(answer).resolves.not.toBeNull();
    expect(zk.state).toBe('connected');
  });

  it('win settleWithin over its timer', async () => {
    const zk = await newService({ operationTimeout: 10_000, sessionTimeout: 12_000 });
    const answer = settleWithin(zk.exists('/'), 2_000, () => {
      throw new Error('no answer within 2000 ms');
    });
    blockEventLoop(3_000);
    await expect(answer).resolves.not.toBeNull();
  });
});
