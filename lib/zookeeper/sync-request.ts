/**
 * ZooKeeper's `sync` (op 9), which node-zookeeper-client does not have. A member answers it only after
 * the leader has: so an answered sync proves the ensemble's leader heard this session when we sent it,
 * while a read may be answered by a follower cut off from the leader (which goes on serving reads until
 * it notices, up to syncLimit x tickTime later) although the leader is about to expire the session.
 * Request and reply are one string each, the path; our patched connection manager decodes the reply.
 */
import type { RawException } from './zookeeper-client.types';
import type { PatchableManager } from './connection-manager.patch';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const jute = require('node-zookeeper-client/lib/jute') as any;
/* eslint-enable @typescript-eslint/no-require-imports */

export const SYNC_OP = 9;

/** A jute record of one `ustring` (length, then UTF-8 bytes), the way the client serializes payloads. */
class PathRecord {
  private chroot = '';
  constructor(private readonly path: string) {}

  setChrootPath(chroot: string | undefined): void {
    this.chroot = chroot ?? '';
  }

  private get fullPath(): string {
    return this.chroot ? (this.path === '/' ? this.chroot : this.chroot + this.path) : this.path;
  }

  byteLength(): number {
    return 4 + Buffer.byteLength(this.fullPath);
  }

  serialize(buffer: Buffer, offset: number): number {
    const written = buffer.write(this.fullPath, offset + 4, 'utf8');
    buffer.writeInt32BE(written, offset);
    return 4 + written;
  }
}

/** Queues a sync of `path`; the callback gets null once the server (and so the leader) answered. */
export function queueSync(manager: PatchableManager, path: string, callback: (error: RawException | null) => void): void {
  const header = new jute.protocol.RequestHeader();
  header.type = SYNC_OP;
  manager.queue(new jute.Request(header, new PathRecord(path)), (error: RawException | null) => callback(error));
}

