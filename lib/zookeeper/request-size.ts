/**
 * The largest request we send, in bytes (the packet after its 4-byte length prefix).
 *
 * A ZooKeeper server refuses any packet longer than its `jute.maxbuffer` (default 0xfffff, 1 MiB less one
 * byte) by dropping the whole connection, which fails every unrelated request in flight with it and
 * suspends the session. So a request above this limit is failed at once, without being sent, with a
 * ZookeeperError of code BAD_ARGUMENTS. The 64 KiB margin below the default leaves room for what the
 * server adds to a request before checking it again as a transaction. Servers configured with a SMALLER
 * `jute.maxbuffer` are not covered by this check.
 */
export const MAX_REQUEST_BYTES = 0xfffff - 64 * 1024;

/** The part of a node-zookeeper-client jute Request we measure. */
export interface SizedRequest {
  header?: { byteLength(): number } | null;
  payload?: { byteLength(): number; setChrootPath?(path: string | undefined): void } | null;
}

/** Serialized size of a request (header and payload, as the server counts it), without serializing it. */
export function requestBytes(request: SizedRequest, chrootPath: string | undefined): number {
  // The client prefixes the chroot to every path when it queues a request; measure what will be sent.
  if (chrootPath && request.payload?.setChrootPath) request.payload.setChrootPath(chrootPath);
  return (request.header?.byteLength() ?? 0) + (request.payload?.byteLength() ?? 0);
}

/** Thrown (synchronously, from the client's queue) for a request over MAX_REQUEST_BYTES; never sent. */
export class RequestTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(
      `request of ${bytes} bytes exceeds the ${MAX_REQUEST_BYTES}-byte limit ` +
        `(ZooKeeper's jute.maxbuffer of 1 MiB less a 64 KiB margin); not sent`,
    );
  }
}
