import { InvalidLockIdError, InvalidLockOptionsError } from './lock.errors';

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

/**
 * Maps an id to the one that names its lock, for stores whose comparison is looser than exact strings: a
 * case-insensitive collation, Unicode normalization, trimmed input. Ids that map to the same string share
 * one lock. Called with the validated id and the scope; what it returns is validated again.
 */
export type LockIdNormalizer = (id: string, scope: string) => string;

/**
 * Validates one id or a list of them, maps each through `normalize` (if any), and returns the distinct
 * results. Throws InvalidLockIdError; an error thrown by `normalize` itself propagates as it is.
 */
export function normalizeIds(id: unknown, scope = DEFAULT_SCOPE, normalize?: LockIdNormalizer): string[] {
  const list = Array.isArray(id) ? id : [id];
  if (list.length === 0) throw new InvalidLockIdError('Lock id list must not be empty');
  if (list.length > MAX_IDS_PER_LOCK) {
    throw new InvalidLockIdError(`At most ${MAX_IDS_PER_LOCK} ids can be locked together, got ${list.length}`);
  }
  const ids = list.map((each) => checkName('id', each));
  return [...new Set(normalize ? ids.map((each) => checkName('id', normalize(each, scope))) : ids)];
}

/** A normalizer option is a function, or `false` (none, overriding a module default). */
export function checkNormalizer(option: string, value: unknown): LockIdNormalizer | false | undefined {
  if (value === undefined || value === false || typeof value === 'function') return value as LockIdNormalizer | false | undefined;
  throw new InvalidLockOptionsError(`Lock option \`${option}\` must be a function (id, scope) => string, or false`);
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
