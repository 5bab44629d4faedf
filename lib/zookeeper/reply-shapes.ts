/**
 * The shapes of the replies we decode, walked with every length checked before node-zookeeper-client's
 * jute decoder sees the bytes. jute takes a declared length as given: a string length below -1 reads as
 * '' and moves its read offset backwards (so a record can re-read itself for ever, pushing results until
 * the heap is gone), -1 reads as null where no null is legal, and a vector count is trusted up to 2^31-1.
 * A reply that passes here has every length within its frame and ends exactly at the frame's end, so
 * jute's decode of it terminates and reads only what the server sent. Pure: unit-tested without a server.
 */
import { WireProtocolError } from './wire-frames';

/** A field of a jute record, as far as its length on the wire goes. */
export type Field =
  | 'int'
  | 'long'
  | 'bool'
  /** A ustring that must be there (a path, a child's name, an ACL's scheme or id). */
  | 'string'
  /** A ustring that may be null (length -1). */
  | 'nullableString'
  /** A byte buffer that may be null (a node's data). */
  | 'buffer'
  /** org.apache.zookeeper.data.Stat: six longs and five ints, 68 bytes. */
  | 'stat'
  | { vector: readonly Field[] };

export const STAT_BYTES = 68;

/** The records we read (each a list of fields in wire order). */
export const SHAPES = {
  create: ['string'],
  create2: ['string', 'stat'],
  stat: ['stat'],
  getData: ['buffer', 'stat'],
  getChildren2: [{ vector: ['string'] }, 'stat'],
  getAcl: [{ vector: ['int', 'string', 'string'] }, 'stat'],
  sync: ['nullableString'],
  notification: ['int', 'int', 'nullableString'],
  multiHeader: ['int', 'bool', 'int'],
  error: ['int'],
} as const satisfies Record<string, readonly Field[]>;

/** Where `fields`, read from `offset`, end; WireProtocolError when a length is impossible for this frame. */
export function measure(frame: Buffer, offset: number, fields: readonly Field[]): number {
  let at = offset;
  for (const field of fields) at = measureField(frame, at, field);
  return at;
}

/** As measure, and the record must end the frame exactly (trailing bytes are corrupt too). */
export function measureToEnd(frame: Buffer, offset: number, fields: readonly Field[], what: string): void {
  const end = measure(frame, offset, fields);
  if (end !== frame.length) throw new WireProtocolError(`${what} reply of ${frame.length} bytes declares ${end}`);
}

function measureField(frame: Buffer, at: number, field: Field): number {
  switch (field) {
    case 'int':
      return take(frame, at, 4);
    case 'long':
      return take(frame, at, 8);
    case 'bool':
      return take(frame, at, 1);
    case 'stat':
      return take(frame, at, STAT_BYTES);
    case 'string':
    case 'nullableString':
    case 'buffer': {
      const length = frame.readInt32BE(take(frame, at, 4) - 4);
      if (length === -1 && field !== 'string') return at + 4;
      if (length < 0) throw new WireProtocolError(`length ${length} at byte ${at} is not a length`);
      return take(frame, at + 4, length);
    }
    default: {
      const count = frame.readInt32BE(take(frame, at, 4) - 4);
      if (count < 0) throw new WireProtocolError(`vector count ${count} at byte ${at} is not a count`);
      const smallest = minimumBytes(field.vector);
      // Refused before walking it: a count the rest of the frame cannot hold.
      if (count * smallest > frame.length - at - 4) throw new WireProtocolError(`vector of ${count} at byte ${at} runs past the reply`);
      let next = at + 4;
      for (let i = 0; i < count; i++) next = measure(frame, next, field.vector);
      return next;
    }
  }
}

/** `bytes` more from `at`, within the frame; the offset after them. */
function take(frame: Buffer, at: number, bytes: number): number {
  if (at + bytes > frame.length) throw new WireProtocolError(`reply of ${frame.length} bytes ends before byte ${at + bytes}`);
  return at + bytes;
}

function minimumBytes(fields: readonly Field[]): number {
  let total = 0;
  for (const field of fields) {
    if (field === 'int') total += 4;
    else if (field === 'long') total += 8;
    else if (field === 'bool') total += 1;
    else if (field === 'stat') total += STAT_BYTES;
    else total += 4; // a length or a count, at least
  }
  return total;
}
