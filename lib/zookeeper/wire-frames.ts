/**
 * Pure pieces of the wire protocol that node-zookeeper-client gets wrong, kept apart from the sockets so
 * they can be tested without a server.
 *
 * ZooKeeper frames every message as a 4-byte big-endian length followed by that many bytes. The client
 * keeps an unfinished frame in one buffer per client, not per connection, so bytes left over from a
 * connection that broke mid-reply were glued in front of the next connection's handshake answer. A
 * FrameReader belongs to exactly one socket and dies with it.
 */

/** Raised for bytes that cannot be ZooKeeper's: the socket that carried them must be dropped. */
export class WireProtocolError extends Error {}

/**
 * Largest frame we accept. The server refuses requests above jute.maxbuffer (1 MiB by default) but may
 * answer with somewhat more (a long children list); anything near a gigabyte is somebody else's protocol
 * (`HTTP` read as a length is 1.2 GB).
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds received bytes; returns the complete frames now available (payload only, without the length). */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      // Only the length prefix is read until the frame is complete: joining every chunk on every push
      // would copy a large reply (a long children list) once per chunk, quadratic in its size.
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : this.concat();
      const size = head.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME_BYTES) {
        throw new WireProtocolError(`frame length ${size} is not ZooKeeper's`);
      }
      if (this.buffered < size + 4) break;
      const whole = this.concat();
      frames.push(whole.subarray(4, size + 4));
      const rest = whole.subarray(size + 4);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  private concat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0];
  }
}

export interface ConnectAnswer {
  protocolVersion: number;
  /** Negotiated session timeout (ms); 0 or less means the session we asked for has expired. */
  timeOut: number;
  sessionId: Buffer;
  password: Buffer;
}

/**
 * Reads a ConnectResponse strictly: protocolVersion, timeOut, sessionId, a 16-byte password, and the
 * optional read-only flag of 3.4+ servers. Any other shape is not a handshake answer.
 */
export function parseConnectAnswer(frame: Buffer): ConnectAnswer {
  if (frame.length !== 36 && frame.length !== 37) {
    throw new WireProtocolError(`a handshake answer is 36 or 37 bytes, got ${frame.length}`);
  }
  const protocolVersion = frame.readInt32BE(0);
  const timeOut = frame.readInt32BE(4);
  const passwordLength = frame.readInt32BE(16);
  if (protocolVersion !== 0 || passwordLength !== 16) {
    throw new WireProtocolError(`malformed handshake answer (version ${protocolVersion}, password ${passwordLength} bytes)`);
  }
  return {
    protocolVersion,
    timeOut,
    sessionId: Buffer.from(frame.subarray(8, 16)),
    password: Buffer.from(frame.subarray(20, 36)),
  };
}

/**
 * What a handshake answer means for the session we asked to resume (all zeros: a new session):
 * - `resumed`: the id we asked for (or our first session);
 * - `expired`: the server says the session is gone (timeOut <= 0);
 * - `replaced`: the server answered with a different session. A ZooKeeper server never does that to a
 *   resume request, so the answer is corrupt or the old session is gone; either way we must not carry on
 *   under an id whose ephemeral nodes are not ours, and the old session's locks are reported lost.
 */
export type HandshakeVerdict = 'resumed' | 'expired' | 'replaced';

export function judgeHandshake(askedSessionId: Buffer, answer: ConnectAnswer): HandshakeVerdict {
  if (answer.timeOut <= 0) return 'expired';
  const askedForNew = askedSessionId.every((byte) => byte === 0);
  // No server hands out session 0: these bytes are not a real answer, so ask again on a new connection.
  if (answer.sessionId.every((byte) => byte === 0)) throw new WireProtocolError('handshake answer with session id 0');
  if (askedForNew) return 'resumed';
  return askedSessionId.equals(answer.sessionId) ? 'resumed' : 'replaced';
}
