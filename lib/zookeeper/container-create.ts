/**
 * ZooKeeper 3.5+ CONTAINER nodes, which node-zookeeper-client cannot create: op createContainer (19)
 * with create flags 4; the server answers a Create2Response (path and Stat), which our patched
 * connection manager decodes (connection-manager.patch.ts). Once a container has had a child and is
 * empty again, the server deletes it (every `znode.container.checkIntervalMs`, 60 s by default), which
 * keeps per-lock parent nodes from piling up, as Curator's lock parents do.
 */
import type { RawAcl, RawException, RawStat } from './zookeeper-client.types';
import { EXTRA_OP, type PatchableManager } from './connection-manager.patch';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const jute = require('node-zookeeper-client/lib/jute') as any;
const Path = require('node-zookeeper-client/lib/Path.js') as { validate(path: string): void };
/* eslint-enable @typescript-eslint/no-require-imports */

export const CONTAINER_FLAGS = 4;
/** The client's own limit for node data (it asserts the same for its creates). */
const DATA_SIZE_LIMIT = 1_048_576;

/** Queues a createContainer request; throws synchronously on an invalid path or oversized data. */
export function createContainer(
  manager: PatchableManager,
  path: string,
  data: Buffer | undefined,
  acl: RawAcl[],
  callback: (error: RawException | null, created?: { path: string; stat: RawStat }) => void,
): void {
  Path.validate(path);
  if (data && data.length > DATA_SIZE_LIMIT) throw new Error(`data must be at most ${DATA_SIZE_LIMIT} bytes`);
  const header = new jute.protocol.RequestHeader();
  header.type = EXTRA_OP.CREATE_CONTAINER;
  const payload = new jute.protocol.CreateRequest();
  payload.path = path;
  payload.data = data ? Buffer.from(data) : undefined;
  payload.acl = acl.map((entry) => (entry as unknown as { toRecord(): unknown }).toRecord());
  payload.flags = CONTAINER_FLAGS;
  manager.queue(new jute.Request(header, payload), (error: RawException | null, response?: { payload: { path: string; stat: RawStat } }) => {
    if (error) callback(error);
    else callback(null, response!.payload);
  });
}
