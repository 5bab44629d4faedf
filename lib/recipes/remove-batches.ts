/**
 * ZooKeeper drops any request larger than `jute.maxbuffer` (1 MiB by default) together with the whole
 * connection. Releasing a queued lock on 64 long ids deletes 128 nodes whose paths alone can pass 1 MiB,
 * so removes are sent in batches of bounded serialized size.
 */

/** Serialized budget per batch: a quarter of the server's default limit, leaving room for headers. */
export const REMOVE_BATCH_BYTES = 256 * 1024;

/** Bytes one remove takes inside a MULTI: op header (type, done, err: 12) + path (4 + UTF-8) + version (4). */
export function removeOpBytes(path: string): number {
  return 12 + 4 + Buffer.byteLength(path, 'utf8') + 4;
}

/** Splits removes, in order, into batches of at most `budget` serialized bytes (a bigger one goes alone). */
export function removeBatches<T extends { path: string }>(nodes: T[], budget = REMOVE_BATCH_BYTES): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const node of nodes) {
    const bytes = removeOpBytes(node.path);
    if (current.length > 0 && size + bytes > budget) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(node);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
