/**
 * Re-registering watches after a reconnect. node-zookeeper-client sends every watched path in ONE
 * SetWatches packet; past the server's jute.maxbuffer (1 MiB by default) the server drops the connection,
 * the client reconnects and sends the same packet again, forever. The Java client cuts the list into
 * packets of at most 128 kB of paths (ClientCnxn.SET_WATCHES_MAX_LENGTH); we do the same.
 */
export const SET_WATCHES_BATCH_BYTES = 128 * 1024;

export interface WatchPaths {
  data: string[];
  exist: string[];
  child: string[];
}

/**
 * Splits the watched paths into batches whose serialized paths stay within `limitBytes` (a single path
 * longer than that goes alone). `chroot` is prepended on the wire, so it counts. Order is kept.
 */
export function batchWatches(watches: WatchPaths, limitBytes = SET_WATCHES_BATCH_BYTES, chroot = ''): WatchPaths[] {
  const batches: WatchPaths[] = [];
  let current: WatchPaths = { data: [], exist: [], child: [] };
  let used = 0;
  const chrootBytes = chroot ? Buffer.byteLength(chroot) : 0;
  for (const kind of ['data', 'exist', 'child'] as const) {
    for (const path of watches[kind]) {
      // A jute string: 4 length bytes and the UTF-8 bytes of the full path.
      const cost = 4 + chrootBytes + Buffer.byteLength(path);
      if (used > 0 && used + cost > limitBytes) {
        batches.push(current);
        current = { data: [], exist: [], child: [] };
        used = 0;
      }
      current[kind].push(path);
      used += cost;
    }
  }
  if (used > 0) batches.push(current);
  return batches;
}
