import { FrameReader, WireProtocolError, judgeHandshake, parseConnectAnswer } from '../../lib/zookeeper/wire-frames';
import { batchWatches } from '../../lib/zookeeper/set-watches-batches';

function frame(payload: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(payload.length);
  return Buffer.concat([length, payload]);
}

function connectAnswer(sessionId: Buffer, timeOut = 4_000, readOnlyByte = true): Buffer {
  const body = Buffer.alloc(readOnlyByte ? 37 : 36);
  body.writeInt32BE(0, 0);
  body.writeInt32BE(timeOut, 4);
  sessionId.copy(body, 8);
  body.writeInt32BE(16, 16);
  return body;
}

describe('FrameReader', () => {
  it('returns frames split over chunks and several frames from one chunk', () => {
    const reader = new FrameReader();
    const a = frame(Buffer.from('hello'));
    const b = frame(Buffer.from('world!'));
    const bytes = Buffer.concat([a, b]);
    expect(reader.push(bytes.subarray(0, 3))).toEqual([]);
    expect(reader.push(bytes.subarray(3, 8)).map(String)).toEqual([]);
    expect(reader.push(bytes.subarray(8, 12)).map(String)).toEqual(['hello']);
    expect(reader.push(bytes.subarray(12)).map(String)).toEqual(['world!']);
    expect(new FrameReader().push(bytes).map(String)).toEqual(['hello', 'world!']);
  });

  it('rejects lengths that are not ZooKeeper framing (HTTP read as a length, negative lengths)', () => {
    expect(() => new FrameReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))).toThrow(WireProtocolError);
    expect(() => new FrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2]))).toThrow(WireProtocolError);
  });

  it('starts empty: a fresh reader never sees the bytes of a reply cut on another connection', () => {
    const old = new FrameReader();
    expect(old.push(frame(Buffer.alloc(84)).subarray(0, 20))).toEqual([]); // a reply cut after its header
    const answer = frame(connectAnswer(Buffer.alloc(8, 7)));
    const frames = new FrameReader().push(answer);
    expect(frames).toHaveLength(1);
    expect(parseConnectAnswer(frames[0]).sessionId).toEqual(Buffer.alloc(8, 7));
  });
});

describe('handshake answers', () => {
  const asked = Buffer.from('0102030405060708', 'hex');
  it('reads a 36- or 37-byte answer and refuses any other shape', () => {
    expect(parseConnectAnswer(connectAnswer(asked)).timeOut).toBe(4_000);
    expect(parseConnectAnswer(connectAnswer(asked, 4_000, false)).sessionId).toEqual(asked);
    expect(() => parseConnectAnswer(Buffer.alloc(57))).toThrow(WireProtocolError);
    const badPassword = connectAnswer(asked);
    badPassword.writeInt32BE(3, 16);
    expect(() => parseConnectAnswer(badPassword)).toThrow(WireProtocolError);
  });

  it('judges resumed, expired and replaced sessions', () => {
    const answer = (id: Buffer, timeOut = 4_000) => parseConnectAnswer(connectAnswer(id, timeOut));
    expect(judgeHandshake(asked, answer(asked))).toBe('resumed');
    expect(judgeHandshake(Buffer.alloc(8), answer(asked))).toBe('resumed'); // a new session
    expect(judgeHandshake(asked, answer(asked, 0))).toBe('expired');
    expect(judgeHandshake(asked, answer(Buffer.from('0807060504030201', 'hex')))).toBe('replaced');
    expect(() => judgeHandshake(Buffer.alloc(8), answer(Buffer.alloc(8)))).toThrow(WireProtocolError);
  });
});

describe('SetWatches batches', () => {
  it('keeps every batch within the limit, keeps order and kinds, and counts the chroot', () => {
    const paths = Array.from({ length: 220 }, (_, i) => `/ns/${String(i).padStart(3, '0')}-${'x'.repeat(5_500)}`);
    const batches = batchWatches({ data: paths, exist: ['/e'], child: ['/c'] });
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      const bytes = [...batch.data, ...batch.exist, ...batch.child].reduce((n, p) => n + 4 + Buffer.byteLength(p), 0);
      expect(bytes).toBeLessThanOrEqual(128 * 1024);
    }
    expect(batches.flatMap((b) => b.data)).toEqual(paths);
    expect(batches.flatMap((b) => b.exist)).toEqual(['/e']);
    expect(batches.flatMap((b) => b.child)).toEqual(['/c']);

    const chrooted = batchWatches({ data: ['/a', '/b'], exist: [], child: [] }, 2 * (4 + 2) + 1, '/chroot');
    expect(chrooted).toHaveLength(2);
    expect(batchWatches({ data: ['/' + 'y'.repeat(200)], exist: [], child: [] }, 100)).toHaveLength(1);
    expect(batchWatches({ data: [], exist: [], child: [] })).toEqual([]);
  });
});

describe('FrameReader on a large reply', () => {
  it('joins its chunks once, when the frame is complete (copying is linear in the reply, not quadratic)', () => {
    const size = 8 * 1024 * 1024;
    const frame = Buffer.alloc(size + 4, 7);
    frame.writeInt32BE(size, 0);
    const reader = new FrameReader();
    const concat = jest.spyOn(Buffer, 'concat');
    try {
      const frames: Buffer[] = [];
      // 4-byte length split over two chunks, then 64 KiB chunks
      frames.push(...reader.push(frame.subarray(0, 2)));
      for (let offset = 2; offset < frame.length; offset += 64 * 1024) {
        frames.push(...reader.push(frame.subarray(offset, offset + 64 * 1024)));
      }
      expect(frames).toHaveLength(1);
      expect(frames[0].length).toBe(size);
      expect(frames[0].equals(frame.subarray(4))).toBe(true);
      expect(concat.mock.calls.length).toBeLessThanOrEqual(2); // 128 chunks: one join for the prefix, one for the frame
    } finally {
      concat.mockRestore();
    }
  });
});
