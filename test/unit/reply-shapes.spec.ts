import { measure, measureToEnd, SHAPES, STAT_BYTES } from '../../lib/zookeeper/reply-shapes';
import { WireProtocolError } from '../../lib/zookeeper/wire-frames';

const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
};
const ustring = (text: string) => Buffer.concat([int32(Buffer.byteLength(text)), Buffer.from(text)]);
const stat = Buffer.alloc(STAT_BYTES);

describe('reply shapes (lengths checked before jute decodes a reply)', () => {
  it('measures a well-formed children list to the end of its frame', () => {
    const frame = Buffer.concat([int32(2), ustring('w-1'), ustring('w-2'), stat]);
    expect(measure(frame, 0, SHAPES.getChildren2)).toBe(frame.length);
    expect(() => measureToEnd(frame, 0, SHAPES.getChildren2, 'getChildren')).not.toThrow();
  });

  it('refuses a length below -1 (jute would step backwards), and -1 where no null is legal', () => {
    expect(() => measure(Buffer.concat([int32(1), int32(-4), stat]), 0, SHAPES.getChildren2)).toThrow(WireProtocolError);
    expect(() => measure(int32(-1), 0, SHAPES.create)).toThrow(WireProtocolError);
    // A node's data may be null (-1); a notification's path too.
    expect(measure(Buffer.concat([int32(-1), stat]), 0, SHAPES.getData)).toBe(4 + STAT_BYTES);
    expect(measure(Buffer.concat([int32(1), int32(3), int32(-1)]), 0, SHAPES.notification)).toBe(12);
  });

  it('refuses a vector count the frame cannot hold before walking it, and a string past the frame', () => {
    expect(() => measure(Buffer.concat([int32(2 ** 31 - 1), ustring('a')]), 0, SHAPES.getChildren2)).toThrow(/runs past the reply/);
    expect(() => measure(Buffer.concat([int32(10), Buffer.from('short')]), 0, SHAPES.create)).toThrow(WireProtocolError);
    expect(() => measure(Buffer.alloc(3), 0, SHAPES.stat)).toThrow(WireProtocolError);
  });

  it('refuses trailing bytes, and a body where none is due', () => {
    expect(() => measureToEnd(Buffer.concat([ustring('/a'), Buffer.from([0])]), 0, SHAPES.create, 'create')).toThrow(/declares/);
    expect(() => measureToEnd(Buffer.from([0]), 0, [], 'empty')).toThrow(WireProtocolError);
  });
});
