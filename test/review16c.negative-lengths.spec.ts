/**
 * Review 16c: jute's decoder takes a declared string length as given. A negative length other than -1
 * (the protocol's "null") is read as an empty string and moves the read offset BACKWARDS
 * (`bytesRead = 4 + length`). connection-manager.patch.ts checks only that the lengths add up to the
 * frame (expectEnd) after decoding, and only for GET_DATA that a declared data length fits first:
 *
 * - a reply whose strings declare negative lengths adds up to its frame and resolves the request with
 *   made-up values (children named '', a created path that is undefined);
 * - a reply whose negative lengths cancel out the bytes of the record around them never ends decoding:
 *   a MULTI answer (MultiResponse's `for (;;)`) or a children vector of 2^31-1 entries re-reads the
 *   same bytes, pushing a result per pass, on the event loop, until the heap is exhausted and the
 *   process aborts. A 33-byte frame takes the process down; no timeout, watchdog or catch can help.
 *
 * README (Security, "The network"): "Corrupt or hostile replies never crash the process and never resolve
 * a request with a wrong value"; (Sessions) "A reply whose declared lengths do not add up to its frame
 * exactly ... is corrupt: the connection drops and the caller gets CONNECTION_LOSS".
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';

type Answer = (xid: number, type: number) => Buffer | undefined;

function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

function replyHeader(xid: number, err = 0, zxid = 5n): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32BE(xid, 0);
  b.writeBigInt64BE(zxid, 4);
  b.writeInt32BE(err, 12);
  return b;
}

const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};

const CREATE = 1;
const MULTI = 14;
const GET_CHILDREN2 = 12;

/** A scripted server: a real handshake, then `answer` for each request (NO_NODE by default). */
async function fakeServer(answer: Answer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    let handshaken = false;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const body = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        if (!handshaken) {
          handshaken = true;
          const hs = Buffer.alloc(36);
          hs.writeInt32BE(0, 0);
          hs.writeInt32BE(4000, 4);
          hs.writeBigInt64BE(0x1234n, 8);
          hs.writeInt32BE(16, 16);
          socket.write(frame(hs));
          continue;
        }
        const xid = body.readInt32BE(0);
        const type = body.readInt32BE(4);
        if (xid === -2) {
          socket.write(frame(replyHeader(-2)));
          continue;
        }
        socket.write(frame(answer(xid, type) ?? replyHeader(xid, -101)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serviceOn(port: number): Promise<ZookeeperService> {
  const zk = new ZookeeperService({
    connectionString: `127.0.0.1:${port}`,
    sessionTimeout: 4_000,
    operationTimeout: 1_000,
    connectTimeout: 3_000,
    retryDelay: 100,
  });
  closers.unshift(() => zk.close());
  expect(await zk.connect()).toBe(true);
  return zk;
}

/** A Stat (68 bytes) whose first 4 bytes are `lead` (so a string length read there consumes them). */
function statStartingWith(lead: number): Buffer {
  const stat = Buffer.alloc(68);
  stat.writeInt32BE(lead, 0);
  return stat;
}

describe('review16c: a reply whose strings declare negative lengths', () => {
  it('getChildren: 3 children of length -4 (they add up to the frame) is CONNECTION_LOSS, not three children named ""', async () => {
    // count 3, then each child's length field is the same 4 bytes (-4 moves back over them), then a Stat.
    const server = await fakeServer((xid, type) =>
      type === GET_CHILDREN2 ? Buffer.concat([replyHeader(xid), int32(3), statStartingWith(-4)]) : undefined,
    );
    closers.push(server.close);
    const zk = await serviceOn(server.port);
    const outcome = await zk.getChildren('/locks/s/acct-1%q').then(
      (children) => ({ resolved: children }),
      (error) => ({ rejected: (error as { code?: string }).code }),
    );
    expect(outcome).toEqual({ rejected: 'CONNECTION_LOSS' });
  });

  it('create: a path of length -1 ("null") is CONNECTION_LOSS, not a node created at path undefined', async () => {
    const server = await fakeServer((xid, type) => (type === CREATE ? Buffer.concat([replyHeader(xid), int32(-1)]) : undefined));
    closers.push(server.close);
    const zk = await serviceOn(server.port);
    const outcome = await zk.create('/locks/s/acct-1', { mode: 'ephemeral' }).then(
      (created) => ({ resolved: created.path }),
      (error) => ({ rejected: (error as { code?: string }).code }),
    );
    expect(outcome).toEqual({ rejected: 'CONNECTION_LOSS' });
  });

  /**
   * In a child process (the decoder never returns, so it would take the jest worker down): one hostile
   * answer, then the child should report the request's outcome and exit 0.
   */
  async function childOutcome(port: number, call: string): Promise<{ code: number | null; signal: string | null; out: string; ms: number }> {
    const root = path.resolve(__dirname, '..');
    const script = `
      const { Logger } = require('@nestjs/common');
      Logger.overrideLogger(false);
      const { ZookeeperService } = require(${JSON.stringify(path.join(root, 'lib/zookeeper/zookeeper.service.ts'))});
      (async () => {
        const zk = new ZookeeperService({ connectionString: '127.0.0.1:${port}', sessionTimeout: 4000, operationTimeout: 1000, connectTimeout: 3000, retryDelay: 100 });
        if (!(await zk.connect())) { console.log('NOT CONNECTED'); process.exit(2); }
        console.log('CONNECTED, sending the request');
        const outcome = await ${call}.then((v) => 'resolved ' + JSON.stringify(v).slice(0, 80), (e) => 'rejected ' + e.code);
        console.log(outcome);
        await zk.close();
        process.exit(0);
      })();
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--max-old-space-size=160', '-r', path.join(root, 'bench/register.js'), '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    return { code, signal, out, ms: Date.now() - started };
  }

  it('multi: an answer whose created path has length -13 (cancelling its op header) never stops decoding: the process dies', async () => {
    // MultiHeader (type CREATE, done false, err -1) = 9 bytes; CreateResponse path length -13 reads 4 + (-13) = -9.
    const multiHeader = Buffer.alloc(9);
    multiHeader.writeInt32BE(CREATE, 0);
    multiHeader.writeUInt8(0, 4);
    multiHeader.writeInt32BE(-1, 5);
    const server = await fakeServer((xid, type) => (type === MULTI ? Buffer.concat([replyHeader(xid), multiHeader, int32(-13)]) : undefined));
    closers.push(server.close);
    const result = await childOutcome(server.port, `zk.multi([{ op: 'create', path: '/locks/s/acct-1', mode: 'ephemeral' }])`);
    const fatal = result.out.split('\n').find((line) => /FATAL|rejected|resolved/.test(line))?.trim();
    console.log(`multi child: exit ${result.code} signal ${result.signal} after ${result.ms} ms: ${fatal}`);
    expect(result.out).toContain('CONNECTED, sending the request'); // the child got as far as the request
    expect({ code: result.code, signal: result.signal, said: fatal }).toEqual({ code: 0, signal: null, said: 'rejected CONNECTION_LOSS' });
  }, 60_000);

  it('getChildren: 2^31-1 children whose length -4 cancels its own field never stops decoding: the process dies', async () => {
    const server = await fakeServer((xid, type) =>
      type === GET_CHILDREN2 ? Buffer.concat([replyHeader(xid), int32(0x7fffffff), statStartingWith(-4)]) : undefined,
    );
    closers.push(server.close);
    const result = await childOutcome(server.port, `zk.getChildren('/locks/s/acct-1%q')`);
    const fatal = result.out.split('\n').find((line) => /FATAL|rejected|resolved/.test(line))?.trim();
    console.log(`getChildren child: exit ${result.code} signal ${result.signal} after ${result.ms} ms: ${fatal}`);
    expect(result.out).toContain('CONNECTED, sending the request'); // the child got as far as the request
    expect({ code: result.code, signal: result.signal, said: fatal }).toEqual({ code: 0, signal: null, said: 'rejected CONNECTION_LOSS' });
  }, 60_000);
});
