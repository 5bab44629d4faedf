/**
 * The data of every node the library creates (holders and waiters): who made it and when, besides the
 * acquisition token that proves a node is ours.
 *
 *   <token> <since: ms since the epoch, base 36> <owner>
 *
 * e.g. `3f9c0d5e1a2b4c6d1f lz3k9x2a web-1/4312`: about 40 bytes, written with every lock, so compact.
 * Tokens are hex (see ZookeeperLockBackend.nextToken) and `since` base 36, so neither holds a space and
 * the owner, which may, comes last. Nodes written before owners existed hold the token alone: they
 * decode to `{ token }`. This is the only module that knows the layout; everyone else compares tokens
 * through `carriesToken` and reads owners through `decodeNodeData`.
 */

export interface NodeData {
  token: string;
  /** The `ownerName` of the process that made the node (absent on nodes of older versions). */
  owner?: string;
  /** When the node was made, by the maker's clock (absent on nodes of older versions). */
  since?: Date;
}

/** Longest `ownerName`, in UTF-16 code units: keeps every node's data well under a hundred bytes or so. */
export const MAX_OWNER_NAME_LENGTH = 128;

const SPACE = 0x20;

export function encodeNodeData(token: string, owner: string, since: number = Date.now()): Buffer {
  return Buffer.from(`${token} ${since.toString(36)} ${owner}`);
}

/**
 * True when a node's data carries `token` (either format): the check behind every "is this node ours",
 * on the release path of every lock, so it compares bytes instead of decoding. Tokens are ASCII.
 */
export function carriesToken(data: Buffer, token: string): boolean {
  const n = token.length;
  if (data.length !== n && data[n] !== SPACE) return false;
  return data.toString('latin1', 0, n) === token;
}

/** The acquisition token of a node's data, in either format. */
export function nodeToken(data: Buffer): string {
  const end = data.indexOf(SPACE);
  return data.toString('utf8', 0, end < 0 ? data.length : end);
}

export function decodeNodeData(data: Buffer): NodeData {
  const text = data.toString();
  const first = text.indexOf(' ');
  if (first < 0) return { token: text };
  const second = text.indexOf(' ', first + 1);
  const token = text.slice(0, first);
  const ms = parseInt(text.slice(first + 1, second < 0 ? undefined : second), 36);
  const owner = second < 0 ? undefined : text.slice(second + 1);
  return {
    token,
    ...(Number.isFinite(ms) && { since: new Date(ms) }),
    ...(owner !== undefined && owner !== '' && { owner }),
  };
}

/**
 * Why `value` cannot be an `ownerName` (undefined when it can): a string of 1 to 128 printable
 * characters (no control characters, no unpaired surrogates, which UTF-8 would turn into U+FFFD).
 */
export function ownerNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `must be a non-empty string, got ${describe(value)}`;
  if (value.length > MAX_OWNER_NAME_LENGTH) return `must be at most ${MAX_OWNER_NAME_LENGTH} characters, got ${value.length}`;
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) return 'must be printable (no control characters or line breaks)';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) return 'must not contain unpaired surrogates';
  return undefined;
}

/** `<hostname>/<pid>`, cut to the length limit (host names may be long) and made printable. */
export function defaultOwnerName(hostname: string, pid: number): string {
  const suffix = `/${pid}`;
  const host = hostname.replace(/[^\x21-\x7e]/g, '_').slice(0, MAX_OWNER_NAME_LENGTH - suffix.length) || 'unknown-host';
  return host + suffix;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
}
