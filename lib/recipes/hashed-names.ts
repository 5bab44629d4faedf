import { createHmac, createSecretKey, KeyObject } from 'node:crypto';
import { encodeNodeName } from '../lock/lock-id';

/** Shortest secret accepted: 16 bytes (128 bits), so that the key cannot be found by trying keys. */
export const MIN_SECRET_BYTES = 16;

/**
 * Node names that do not reveal the id (the `hashIds` option): `h-` + base64url(HMAC-SHA256(secret,
 * scope/id)), 45 characters whatever the id. ZooKeeper checks no ACL on `exists` and lists every path in
 * `dump`, so a plain name tells anyone who can reach the server which ids are locked; a keyed hash tells
 * them only that some id is, and cannot be checked against a guess without the secret.
 *
 * What is hashed is the encoded scope and id joined by `/`: encodeNodeName is injective and never
 * yields `/`, so distinct (scope, id) pairs hash distinct inputs (raw strings would not do: UTF-8 maps
 * every unpaired surrogate to U+FFFD). The scope is in the key, so one id in two scopes gets two
 * unrelated names. A base64url name never holds `%`, so it never looks like a queue (`%q`).
 */
export class HashedNames {
  private readonly key: KeyObject;

  constructor(secret: string | Buffer) {
    this.key = createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret));
  }

  nameOf(scope: string, id: string): string {
    return 'h-' + createHmac('sha256', this.key).update(`${encodeNodeName(scope)}/${encodeNodeName(id)}`).digest('base64url');
  }
}
