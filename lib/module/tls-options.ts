/**
 * Validation of the `tls` option. Everything that can be known before dialing is checked at start-up
 * (PEM that does not parse, a key that does not match its certificate, a file path given for contents),
 * so that a mistake is an error naming the option instead of a server that "never answers".
 * Messages never repeat what was given: it may be a private key.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { ResolvedTlsOptions } from '../zookeeper/socket-dialer';

type Fail = (option: string, problem: string) => never;

const KNOWN = new Set(['ca', 'cert', 'key', 'passphrase', 'servername']);
// Switches of Node's tls.connect that would weaken or replace server verification: refused by name.
const VERIFICATION_SWITCHES = new Set(['rejectUnauthorized', 'checkServerIdentity', 'insecure']);
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function reasonOf(error: unknown): string {
  const { reason, message } = error as { reason?: unknown; message?: unknown };
  return typeof reason === 'string' && reason ? reason : String(message ?? error);
}

/** PEM text as a string or Buffer; says what kind of mistake it is without quoting it. */
function pem(fail: Fail, name: string, value: unknown, label: string): string | Buffer {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail(name, `must be PEM ${label} as a string or Buffer, got ${value === null ? 'null' : typeof value}`);
  }
  const text = typeof value === 'string' ? value : value.toString('latin1');
  if (!text.includes('-----BEGIN ')) {
    const looksLikePath = typeof value === 'string' && value.length < 4096 && !/[\r\n]/.test(value) && /[\\/.]/.test(value);
    fail(
      name,
      looksLikePath
        ? `must be PEM contents, not a file name: pass fs.readFileSync(<file>)`
        : `must be PEM ${label} (text starting with -----BEGIN ...-----)${Buffer.isBuffer(value) ? '; DER is not accepted, convert it with openssl' : ''}`,
    );
  }
  return value;
}

function validCa(fail: Fail, value: unknown): Array<string | Buffer> {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail('tls.ca', 'must not be an empty array; leave it out to trust the public root CAs');
  return list.map((entry, i) => {
    const name = Array.isArray(value) ? `tls.ca[${i}]` : 'tls.ca';
    const checked = pem(fail, name, entry, 'CA certificate(s)');
    try {
      new X509Certificate(checked);
    } catch (error) {
      fail(name, `is not a readable PEM certificate (${reasonOf(error)})`);
    }
    return checked;
  });
}

function validServername(fail: Fail, value: unknown): string {
  if (typeof value !== 'string' || !HOST_NAME.test(value)) fail('tls.servername', `must be a host name such as zk.example.com, got ${JSON.stringify(value)}`);
  if (net.isIP(value)) fail('tls.servername', 'must be a host name, not an IP address (for an IP, leave it out: the certificate must then list that IP)');
  return value;
}

/** Undefined: plain TCP. Throws (through `fail`) naming the sub-option at fault. */
export function resolveTlsOptions(fail: Fail, value: unknown): ResolvedTlsOptions | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
    fail('tls', 'must be an object { ca?, cert?, key?, passphrase?, servername? } (or left out for plain TCP)');
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (VERIFICATION_SWITCHES.has(key)) fail(`tls.${key}`, 'is not supported: the server certificate is always verified (give its CA in `tls.ca`)');
    if (!KNOWN.has(key)) fail(`tls.${key}`, 'is not a TLS option; known: ca, cert, key, passphrase, servername');
  }
  const resolved: ResolvedTlsOptions = {};
  if (given.ca !== undefined) resolved.ca = validCa(fail, given.ca);
  if ((given.cert === undefined) !== (given.key === undefined)) {
    fail(given.cert === undefined ? 'tls.key' : 'tls.cert', 'needs `tls.cert` and `tls.key` together: a client certificate and its private key');
  }
  if (given.cert !== undefined) {
    resolved.cert = pem(fail, 'tls.cert', given.cert, 'certificate');
    resolved.key = pem(fail, 'tls.key', given.key, 'private key');
  }
  if (given.passphrase !== undefined) {
    if (typeof given.passphrase !== 'string') fail('tls.passphrase', 'must be a string');
    if (resolved.key === undefined) fail('tls.passphrase', 'is given without `tls.key`');
    resolved.passphrase = given.passphrase;
  }
  if (given.servername !== undefined) resolved.servername = validServername(fail, given.servername);
  if (resolved.cert !== undefined) {
    // Parses the key (with its passphrase) and checks it belongs to the certificate, as each dial would.
    try {
      tls.createSecureContext({ cert: resolved.cert, key: resolved.key, passphrase: resolved.passphrase });
    } catch (error) {
      fail('tls.cert/tls.key', `cannot be used together: ${reasonOf(error)}`);
    }
  }
  return resolved;
}
