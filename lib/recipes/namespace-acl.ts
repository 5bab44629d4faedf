import { createHash, X509Certificate } from 'node:crypto';
import type { ZookeeperAclEntry } from '../module/zookeeper-lock-options.interface';
import type { AclEntry } from '../zookeeper/zookeeper.service';

/**
 * Pure decisions about the ACLs of the lock directories (no I/O). ZooKeeper checks a create or delete
 * against the PARENT's ACL, so whoever may create, delete or administer the namespace or a scope dir
 * can delete a held holder node, squat an id, or swap the directory for one of their own. The library
 * refuses to lock under a directory whose ACL grants any of these to an identity the configured `acl`
 * does not name.
 */

const CREATE = 4;
const DELETE = 8;
const ADMIN = 16;
const GUARDED = CREATE | DELETE | ADMIN;
const BIT_NAMES: Array<[number, string]> = [
  [1, 'r'],
  [2, 'w'],
  [CREATE, 'c'],
  [DELETE, 'd'],
  [ADMIN, 'a'],
];
const PERMISSION_BITS: Record<string, number> = { read: 1, write: 2, create: 4, delete: 8, admin: 16, all: 31 };

/** Who may create, delete and administer lock directories: `scheme:id` -> permission bits. */
export type AclPolicy = Map<string, number>;

/** ZooKeeper's digest id of `user:password`: `user:base64(sha1(user:password))`. */
export function digestId(credentials: string): string {
  const user = credentials.slice(0, credentials.indexOf(':'));
  return `${user}:${createHash('sha1').update(credentials).digest('base64')}`;
}

/**
 * The identities the configured `acl` grants, with `auth` entries (and `creator`) expanded to the digest
 * ids of our own credentials, as the server stores them. `open` gives undefined: anyone may do anything,
 * by the operator's choice, so there is nothing to check.
 */
export function aclPolicy(
  acl: 'open' | 'creator' | ZookeeperAclEntry[],
  auth: string[],
  clientCertificate?: string | Buffer,
): AclPolicy | undefined {
  if (acl === 'open') return undefined;
  const entries = acl === 'creator' ? [{ scheme: 'auth', id: '', permissions: ['all'] as const }] : acl;
  const policy: AclPolicy = new Map();
  const grant = (key: string, bits: number) => policy.set(key, (policy.get(key) ?? 0) | bits);
  for (const entry of entries) {
    const bits = entry.permissions.reduce((sum, p) => sum | PERMISSION_BITS[p], 0);
    if (entry.scheme === 'auth') {
      for (const credentials of auth) grant(`digest:${digestId(credentials)}`, bits);
      // Over mutual TLS the server authenticates the session as its certificate's subject too, and an
      // `auth` ACL names every identity of the creating session.
      if (clientCertificate !== undefined) grant(`x509:${x509Identity(clientCertificate)}`, bits);
    } else grant(`${entry.scheme}:${entry.id}`, bits);
  }
  return policy;
}

/**
 * The id ZooKeeper's X509AuthenticationProvider gives a client certificate: its subject as RFC 2253
 * writes it (most specific RDN first, comma-separated), e.g. `CN=app,O=Example`. Node lists the RDNs
 * one per line in certificate order, so they are reversed and joined.
 */
export function x509Identity(certificate: string | Buffer): string {
  return new X509Certificate(certificate).subject.split('\n').reverse().join(',');
}

/** Entries of `actual` that grant create, delete or admin beyond what `policy` grants the same identity. */
export function foreignEntries(actual: AclEntry[], policy: AclPolicy): AclEntry[] {
  return actual.filter((entry) => {
    const guarded = entry.permissions & GUARDED;
    if (guarded === 0) return false;
    const allowed = policy.get(`${entry.scheme}:${entry.id}`) ?? 0;
    return (guarded & ~allowed) !== 0;
  });
}

/** `world:anyone:cdrwa`, as zkCli prints ACLs (digest hashes are not secrets, but are cut short anyway). */
export function describeAclEntry(entry: AclEntry): string {
  const bits = BIT_NAMES.filter(([bit]) => entry.permissions & bit).map(([, name]) => name);
  const order = ['c', 'd', 'r', 'w', 'a'].filter((name) => bits.includes(name)).join('');
  const id = entry.scheme === 'digest' ? `${entry.id.slice(0, entry.id.indexOf(':'))}:<hash>` : entry.id;
  return `${entry.scheme}:${id}:${order}`;
}
