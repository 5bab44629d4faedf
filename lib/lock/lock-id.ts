import { InvalidLockIdError } from './lock.errors';

/** Longest id (and scope) in UTF-16 code units. */
export const MAX_ID_LENGTH = 1024;
/** Most ids one call may lock at once. */
export const MAX_IDS_PER_LOCK = 64;
/** Scope of locks taken without one. */
export const DEFAULT_SCOPE = 'default';

// Characters kept as they are in node names; everything else becomes %xxxx (one UTF-16 code unit).
const SAFE = /^[A-Za-z0-9_.:@=+,-]$/;
const ALL_SAFE = /^[A-Za-z0-9_.:@=+,-]+$/;

/**
 * Maps any string to a ZooKeeper node name, injectively: `decodeNodeName(encodeNodeName(s)) === s`, so
 * two distinct ids never share a lock. The result holds no `/`, no character ZooKeeper refuses, and is
 * never `.` or `..`, so no id can name a node outside its scope. Works per UTF-16 code unit, so unpaired
 * surrogates (which UTF-8 cannot carry) stay distinct too.
 */
export function encodeNodeName(value: string): string {
  if (ALL_SAFE.test(value) && value !== '.' && value !== '..') return value; // the common case
  let encoded = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    encoded += SAFE.test(ch) ? ch : escape(ch);
  }
  // `.` and `..` are not valid node names: spell their dots out.
  if (encoded === '.' || encoded === '..') encoded = encoded.replace(/\./g, escape('.'));
  return encoded;
}

function escape(ch: string): string {
  return '%' + ch.charCodeAt(0).toString(16).padStart(4, '0');
}

/** Inverse of encodeNodeName (for tools and tests; the lock never needs it). */
export function decodeNodeName(name: string): string {
  return name.replace(/%([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function checkName(what: 'id' | 'scope', value: unknown): string {
  if (typeof value !== 'string') {
    throw new InvalidLockIdError(`Lock ${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length === 0) throw new InvalidLockIdError(`Lock ${what} must not be empty`);
  if (value.length > MAX_ID_LENGTH) {
    throw new InvalidLockIdError(`Lock ${what} is ${value.length} characters long; the limit is ${MAX_ID_LENGTH}`);
  }
  return value;
}

/** Validates one id or a list of them; returns the distinct ids. Throws InvalidLockIdError. */
export function normalizeIds(id: unknown): string[] {
  const list = Array.isArray(id) ? id : [id];
  if (list.length === 0) throw new InvalidLockIdError('Lock id list must not be empty');
  if (list.length > MAX_IDS_PER_LOCK) {
    throw new InvalidLockIdError(`At most ${MAX_IDS_PER_LOCK} ids can be locked together, got ${list.length}`);
  }
  return [...new Set(list.map((each) => checkName('id', each)))];
}

export function normalizeScope(scope: unknown): string {
  return scope === undefined ? DEFAULT_SCOPE : checkName('scope', scope);
}

/** A lock's identity inside this process (reentrancy, the in-memory backend); injective over (scope, id). */
export function lockKey(scope: string, id: string): string {
  return JSON.stringify([scope, id]);
}

/** The scope and id a lockKey was made of. */
export function parseLockKey(key: string): { scope: string; id: string } {
  const [scope, id] = JSON.parse(key) as [string, string];
  return { scope, id };
}
