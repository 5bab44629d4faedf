/**
 * Review 16c: a MULTI answer is one result per op, in order, of the op's own type (or -1, error). The
 * decoder (multi-request.ts MultiResponse) and ZookeeperService.multi take whatever results come:
 * - an answer with NO results (only the "done" header) resolves a MULTI of two creates as a success,
 *   with `[]`: the caller believes both nodes were created (a lock taken that nobody holds);
 * - an answer whose result is a DELETE where the op was a create resolves with `path: undefined`;
 * - an answer with MORE results than ops throws inside the reply callback (`ops[i]` is undefined): the
 *   exception is swallowed as a "callback threw" log line and the caller waits for operationTimeout,
 *   although the reply came at once.
 * README (Security › The network): corrupt or hostile replies "never resolve a request with a wrong
 * value"; a corrupt reply drops the connection and the caller gets CONNECTION_LOSS.
 */
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
import { closeScripted, fakeServer, frame, multiHeader, replyHeader, serviceOn, ustring } from './support/scripted-server';

const MULTI = 14;
const CREATE = 1;
const DELETE = 2;

afterEach(closeScripted);

const twoCreates = [
  { op: 'create' as const, path: '/locks/s/a', mode: 'ephemeral' as const },
  { op: 'create' as const, path: '/locks/s/b', mode: 'ephemeral' as const },
];

async function outcome(zk: ZookeeperService): Promise<unknown> {
  const started = performance.now();
  return zk.multi(twoCreates).then(
    (results) => ({ resolved: results }),
    (error) => ({ rejected: (error as { code?: string }).code, ms: Math.round(performance.now() - started) > 1_000 ? 'late' : 'at once' }),
  );
}

describe('review16c: a MULTI answer whose results do not match its ops', () => {
  it('no results at all (only "done") for two creates: CONNECTION_LOSS, not success with []', async () => {
    const server = await fakeServer((xid, type) => (type === MULTI ? Buffer.concat([replyHeader(xid), multiHeader(-1, true)]) : undefined));
    expect(await outcome(await serviceOn(server.port, 2_000))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });

  it('a DELETE result where a create was asked: CONNECTION_LOSS, not a create at path undefined', async () => {
    const server = await fakeServer((xid, type) =>
      type === MULTI
        ? Buffer.concat([replyHeader(xid), multiHeader(CREATE, false), ustring('/locks/s/a'), multiHeader(DELETE, false), multiHeader(-1, true)])
        : undefined,
    );
    expect(await outcome(await serviceOn(server.port, 2_000))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });

  it('three results for two ops: CONNECTION_LOSS at once, not OPERATION_TIMEOUT after the reply was swallowed', async () => {
    const server = await fakeServer((xid, type) =>
      type === MULTI
        ? Buffer.concat([
            replyHeader(xid),
            multiHeader(CREATE, false),
            ustring('/locks/s/a'),
            multiHeader(CREATE, false),
            ustring('/locks/s/b'),
            multiHeader(CREATE, false),
            ustring('/locks/s/c'),
            multiHeader(-1, true),
          ])
        : undefined,
    );
    expect(await outcome(await serviceOn(server.port, 2_000))).toEqual({ rejected: 'CONNECTION_LOSS', ms: 'at once' });
  });
});
