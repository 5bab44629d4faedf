/**
 * Review 16c: decodePayload (lib/zookeeper/connection-manager.patch.ts, `case OP.DELETE / SET_WATCHES /
 * CLOSE_SESSION: return null`) returns before expectEnd, so the answers without a body are never checked
 * to end where their frame ends: a delete answered with bytes after its header resolves as a success.
 * Every other answer with trailing bytes is refused as corrupt (README, Sessions › No crash from network
 * input: "A reply whose declared lengths do not add up to its frame exactly (a path cut short, trailing
 * bytes, ...) is corrupt: the connection drops and the caller gets CONNECTION_LOSS"; the create case is
 * zookeeper.malformed-replies.spec.ts). Two replies run together into one frame (a delete's, then the
 * next request's) are taken as one good delete answer.
 */
import { closeScripted, fakeServer, frame, multiHeader, replyHeader, serviceOn, ustring } from './support/scripted-server';

const DELETE = 2;

afterEach(closeScripted);

describe('review16c: a delete answer with bytes after its header', () => {
  it('is corrupt (CONNECTION_LOSS), like any other answer with trailing bytes', async () => {
    // The delete's header, then what looks like a whole second reply (length prefix and header) in the same frame.
    const server = await fakeServer((xid, type) =>
      type === DELETE ? Buffer.concat([replyHeader(xid), frame(replyHeader(xid + 1))]) : undefined,
    );
    const zk = await serviceOn(server.port, 2_000);
    const outcome = await zk.remove('/locks/s/acct-1', 0).then(
      () => 'resolved',
      (error) => (error as { code?: string }).code,
    );
    expect(outcome).toBe('CONNECTION_LOSS');
  });
});
