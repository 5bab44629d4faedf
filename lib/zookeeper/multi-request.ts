/**
 * MULTI (op 14) requests and answers, encoded here rather than by node-zookeeper-client's Transaction:
 * - its ops take `version || -1`, so version 0 meant "any version" (its bug #67); here a version is sent
 *   as given;
 * - it knows no createContainer (op 19, flags 4) inside a multi, nor the Create2Response the server
 *   answers it with; here both are spoken, so one atomic request can make a lock's CONTAINER queue and
 *   the nodes in it.
 * The records are the client's own jute ones, so the chroot and the size guard treat them like any other.
 */
import type { RawAcl, RawStat } from './zookeeper-client.types';
import { measure, SHAPES } from './reply-shapes';
import { WireProtocolError } from './wire-frames';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const jute = require('node-zookeeper-client/lib/jute') as any;
/* eslint-enable @typescript-eslint/no-require-imports */

const OP = jute.OP_CODES as Record<string, number>;
/** Op codes the client does not know (the same as connection-manager.patch.ts's EXTRA_OP). */
const EXTRA_OP = { CREATE2: 15, CREATE_CONTAINER: 19 } as const;
export const CONTAINER_FLAGS = 4;

export type RawMultiOp =
  | { type: 'create'; path: string; data?: Buffer; acl: RawAcl[]; flags: number }
  | { type: 'remove'; path: string; version: number }
  | { type: 'check'; path: string; version: number }
  | { type: 'setData'; path: string; data: Buffer; version: number };

export interface RawMultiResult {
  /** The op code of the answer: the op's own, or -1 (error) for every op of a failed multi. */
  type: number;
  /** Created path (create, create2, createContainer). */
  path?: string;
  stat?: RawStat;
  /** Error code (type -1); 0 for ops that would have succeeded in a multi that failed elsewhere. */
  err?: number;
}

/** The payload record of a MULTI request: MultiHeader + op record per op, then a "done" header. */
export class MultiRequest {
  private readonly records: Array<{ byteLength(): number; serialize(b: Buffer, o: number): number; setChrootPath?(p?: string): void }> = [];
  /** The op code of each op, in order: what its answer must match (MultiResponse). */
  readonly types: number[] = [];

  constructor(ops: RawMultiOp[]) {
    for (const op of ops) {
      let type: number;
      let record: any;
      switch (op.type) {
        case 'create':
          type = op.flags === CONTAINER_FLAGS ? EXTRA_OP.CREATE_CONTAINER : OP.CREATE;
          record = new jute.protocol.CreateRequest();
          record.path = op.path;
          record.data = op.data ? Buffer.from(op.data) : undefined;
          record.acl = op.acl.map((entry) => (entry as unknown as { toRecord(): unknown }).toRecord());
          record.flags = op.flags;
          break;
        case 'remove':
          type = OP.DELETE;
          record = new jute.protocol.DeleteRequest();
          record.path = op.path;
          record.version = op.version;
          break;
        case 'check':
          type = OP.CHECK;
          record = new jute.protocol.CheckVersionRequest();
          record.path = op.path;
          record.version = op.version;
          break;
        case 'setData':
          type = OP.SET_DATA;
          record = new jute.protocol.SetDataRequest();
          record.path = op.path;
          record.data = Buffer.from(op.data);
          record.version = op.version;
          break;
      }
      this.types.push(type);
      this.records.push(new jute.protocol.MultiHeader(type, false, -1), record);
    }
    this.records.push(new jute.protocol.MultiHeader(-1, true, -1));
  }

  setChrootPath(path: string | undefined): void {
    for (const record of this.records) record.setChrootPath?.(path);
  }

  byteLength(): number {
    let length = 0;
    for (const record of this.records) length += record.byteLength();
    return length;
  }

  serialize(buffer: Buffer, offset: number): number {
    let at = offset;
    for (const record of this.records) at += record.serialize(buffer, at);
    return at - offset;
  }
}

/**
 * The answer to a MULTI: one result per op, in order, each the op's own kind or an error (a failed MULTI
 * answers an error for every op). Anything else (fewer or more results, another kind, a length that does
 * not fit the frame) is a corrupt answer: WireProtocolError, and the connection drops, rather than a
 * MULTI reported done that made nothing, or a decode that never ends.
 */
export class MultiResponse {
  readonly results: RawMultiResult[] = [];
  private chrootPath?: string;

  /** `sent`: the op codes of the request's ops (MultiRequest.types). */
  constructor(private readonly sent: readonly number[]) {}

  setChrootPath(path: string | undefined): void {
    this.chrootPath = path;
  }

  deserialize(buffer: Buffer, offset: number): number {
    let read = 0;
    for (;;) {
      measure(buffer, offset + read, SHAPES.multiHeader); // each pass reads 9 bytes at least: it ends
      const header = new jute.protocol.MultiHeader();
      read += header.deserialize(buffer, offset + read);
      if (header.done) {
        if (this.results.length !== this.sent.length) {
          throw new WireProtocolError(`a MULTI of ${this.sent.length} ops answered with ${this.results.length} results`);
        }
        return read;
      }
      const op = this.sent[this.results.length];
      if (op === undefined) throw new WireProtocolError(`a MULTI of ${this.sent.length} ops answered with more results`);
      if (header.type !== OP.ERROR && !answers(op, header.type)) {
        throw new WireProtocolError(`op ${op} of a MULTI answered as op ${header.type}`);
      }
      switch (header.type) {
        case OP.CREATE:
        case EXTRA_OP.CREATE2:
        case EXTRA_OP.CREATE_CONTAINER: {
          measure(buffer, offset + read, header.type === OP.CREATE ? SHAPES.create : SHAPES.create2);
          const created = new jute.protocol.CreateResponse();
          created.setChrootPath(this.chrootPath);
          read += created.deserialize(buffer, offset + read);
          const result: RawMultiResult = { type: header.type, path: created.path };
          if (header.type !== OP.CREATE) {
            const stat = new jute.data.Stat();
            read += stat.deserialize(buffer, offset + read);
            result.stat = stat;
          }
          this.results.push(result);
          break;
        }
        case OP.SET_DATA: {
          measure(buffer, offset + read, SHAPES.stat);
          const answer = new jute.protocol.SetDataResponse();
          read += answer.deserialize(buffer, offset + read);
          this.results.push({ type: header.type, stat: answer.stat });
          break;
        }
        case OP.DELETE:
        case OP.CHECK:
          this.results.push({ type: header.type });
          break;
        case OP.ERROR: {
          measure(buffer, offset + read, SHAPES.error);
          const answer = new jute.protocol.ErrorResponse();
          read += answer.deserialize(buffer, offset + read);
          this.results.push({ type: header.type, err: answer.err });
          break;
        }
        default:
          throw new WireProtocolError(`unknown op ${header.type} in a multi answer`);
      }
    }
  }
}

/** Whether an answer of kind `answer` is one to an op of kind `op` (a create may be answered as create2). */
function answers(op: number, answer: number): boolean {
  if (op === OP.CREATE || op === EXTRA_OP.CREATE_CONTAINER) return answer === OP.CREATE || answer === EXTRA_OP.CREATE2 || answer === EXTRA_OP.CREATE_CONTAINER;
  return op === answer;
}

/** A jute Request for `ops` (header type MULTI), ready for the connection manager's queue. */
export function multiRequest(ops: RawMultiOp[]): unknown {
  const header = new jute.protocol.RequestHeader();
  header.type = OP.MULTI;
  return new jute.Request(header, new MultiRequest(ops));
}
