import type { ResolvedZookeeperLockOptions } from '../module/zookeeper-lock-options';

/**
 * The options that carry secrets, in clear: the digest passwords of `auth`, the password hashes of digest
 * ACL entries, the TLS private key and its passphrase, the `hashIds` secret. ZookeeperService's public
 * `options` shows them redacted (a dump of the service, a debug log or an error reporter that serializes
 * it must not leak them); the code that needs them reads them here.
 */
export type ConnectionSecrets = Pick<ResolvedZookeeperLockOptions, 'auth' | 'acl' | 'tls' | 'hashIds'>;

const REDACTED = '<redacted>';
const kept = new WeakMap<object, ConnectionSecrets>();

/** Keeps `options`' secrets for `owner` and returns the options with them redacted. */
export function keepSecrets(owner: object, options: ResolvedZookeeperLockOptions): Readonly<ResolvedZookeeperLockOptions> {
  kept.set(owner, { auth: options.auth, acl: options.acl, tls: options.tls, hashIds: options.hashIds });
  return Object.freeze({
    ...options,
    auth: options.auth.map(redactCredentials),
    acl: Array.isArray(options.acl) ? options.acl.map((entry) => (entry.scheme === 'digest' ? { ...entry, id: redactCredentials(entry.id) } : entry)) : options.acl,
    ...(options.tls && {
      tls: {
        ...options.tls,
        ...(options.tls.key !== undefined && { key: REDACTED }),
        ...(options.tls.passphrase !== undefined && { passphrase: REDACTED }),
      },
    }),
    ...(options.hashIds && { hashIds: { secret: REDACTED } }),
  });
}

/** The clear secrets of a ZookeeperService (internal: never exported from the package). */
export function secretsOf(owner: object): ConnectionSecrets {
  const secrets = kept.get(owner);
  if (!secrets) throw new Error('No connection secrets are kept for this object (not a ZookeeperService)');
  return secrets;
}

/** `user:password` (or `user:hash`) shows the user only. */
function redactCredentials(credentials: string): string {
  const colon = credentials.indexOf(':');
  return colon >= 0 ? `${credentials.slice(0, colon)}:${REDACTED}` : REDACTED;
}
