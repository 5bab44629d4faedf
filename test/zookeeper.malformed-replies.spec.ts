/**
 * Replies from a scripted server (a real socket, our bytes) whose frame is well formed but whose inner
 * lengths do not add up: jute reads strings only up to the end of the buffer and allocates a declared data
 * length before checking it, so such a reply used to resolve a create with a cut-short path. A reply that
 * is not exactly what it declares is corrupt: the connection is dropped (the caller gets CONNECTION_LOSS)
 * and nothing of it reaches the caller. No ZooKeeper semantics are claimed here, only the decoder's.
 */
import { closeScripted, fakeServer, frame, int32, replyHeader, serviceOn } from './support/scripted-server';

afterEach(closeScripted);

const CREATE = 1;
const GET_DATA = 4;

describe('a reply whose declared lengths do not match its frame', () => {
  it.each<[string, number, (xid: number) => Buffer]>([
    ['create: path claims 40 bytes, carries 5', CREATE, (xid) => Buffer.concat([replyHeader(xid), int32(40), Buffer.from('/lock')])],
    ['create: 7 bytes trailing the path', CREATE, (xid) => Buffer.concat([replyHeader(xid), int32(5), Buffer.from('/lock'), Buffer.alloc(7)])],
    ['getData: data claims 1,000 bytes, carries 3', GET_DATA, (xid) => Buffer.concat([replyHeader(xid), int32(1_000), Buffer.from('abc'), Buffer.alloc(68)])],
    ['getData: data claims 2^31-1 bytes (a 2 GB allocation)', GET_DATA, (xid) => Buffer.concat([replyHeader(xid), int32(2 ** 31 - 1), Buffer.alloc(68)])],
  ])('%s: is refused as CONNECTION_LOSS, and the next request is answered', async (_, op, reply) => {
    let corrupt = true;
    const server = await fakeServer((xid, type) => {
      if (type !== op) return undefined;
      if (!corrupt) return Buffer.concat([replyHeader(xid), int32(5), Buffer.from('/good'), ...(op === GET_DATA ? [Buffer.alloc(68)] : [])]);
      corrupt = false;
      return reply(xid);
    });
    const zk = await serviceOn(server.port);
    const call = () => (op === CREATE ? zk.create('/lock', { mode: 'ephemeral' }) : zk.getData('/x'));
    await expect(call()).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
    await expect(call()).resolves.toBeTruthy(); // reconnected; a well-formed reply is accepted
  });
});

it("refuses a reply whose xid is not the request's as CONNECTION_LOSS, and answers the next request", async () => {
  let wrong = true;
  const server = await fakeServer((xid, type) => {
    if (type !== CREATE) return undefined;
    const answerXid = wrong ? xid + 1_000 : xid; // the first create is "answered" under another xid
    const path = wrong ? '/not-yours' : '/good';
    wrong = false;
    return Buffer.concat([replyHeader(answerXid), int32(path.length), Buffer.from(path)]);
  });
  const zk = await serviceOn(server.port);
  const first = await zk.create('/lock', { mode: 'ephemeral' }).then(
    (created) => `resolved with ${created.path}`,
    (error: { code?: string }) => error.code,
  );
  expect(first).toBe('CONNECTION_LOSS');
  await expect(zk.create('/lock', { mode: 'ephemeral' })).resolves.toMatchObject({ path: '/good' }); // reconnected
});
