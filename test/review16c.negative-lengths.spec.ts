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
import path from 'node:path';
import { closeScripted, fakeServer, frame, int32, replyHeader, serviceOn } from './support/scripted-server';

const CREATE = 1;
const MULTI = 14;
const GET_CHILDREN2 = 12;

/** A scripted server: a real handshake, then `answer` for each request (NO_NODE by default). */

afterEach(closeScripted);

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
    const zk = await serviceOn(server.port);
    const outcome = await zk.getChildren('/locks/s/acct-1%q').then(
      (children) => ({ resolved: children }),
      (error) => ({ rejected: (error as { code?: string }).code }),
    );
    expect(outcome).toEqual({ rejected: 'CONNECTION_LOSS' });
  });

  it('create: a path of length -1 ("null") is CONNECTION_LOSS, not a node created at path undefined', async () => {
    const server = await fakeServer((xid, type) => (type === CREATE ? Buffer.concat([replyHeader(xid), int32(-1)]) : undefined));
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
    const result = await childOutcome(server.port, `zk.getChildren('/locks/s/acct-1%q')`);
    const fatal = result.out.split('\n').find((line) => /FATAL|rejected|resolved/.test(line))?.trim();
    console.log(`getChildren child: exit ${result.code} signal ${result.signal} after ${result.ms} ms: ${fatal}`);
    expect(result.out).toContain('CONNECTED, sending the request'); // the child got as far as the request
    expect({ code: result.code, signal: result.signal, said: fatal }).toEqual({ code: 0, signal: null, said: 'rejected CONNECTION_LOSS' });
  }, 60_000);
});
