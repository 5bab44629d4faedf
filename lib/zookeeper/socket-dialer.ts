/**
 * Opens the socket to one ZooKeeper member: plain TCP, or TLS (ZooKeeper 3.5+ `secureClientPort`).
 * The connection patch only needs to know which event means "ready for the ZooKeeper handshake" and
 * which socket errors are TLS failures worth naming to the operator; both are decided here.
 */
import net from 'node:net';
import tls from 'node:tls';

/** TLS settings after validation (see zookeeper-lock-options.ts). */
export interface ResolvedTlsOptions {
  /** Trusted CAs; undefined: Node's bundled root CAs. */
  ca?: Array<string | Buffer>;
  /** Client certificate and key, for servers with `ssl.clientAuth=need` (given together). */
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** Name the server's certificate must carry (and SNI); undefined: the host dialed. */
  servername?: string;
}

export interface DialedSocket {
  socket: net.Socket;
  /** Emitted once the ZooKeeper handshake may be written: after TCP connect, or after the TLS handshake. */
  readyEvent: 'connect' | 'secureConnect';
}

export function dialServer(server: { host: string; port: number }, options: ResolvedTlsOptions | undefined): DialedSocket {
  if (!options) return { socket: net.connect(server), readyEvent: 'connect' };
  const socket = tls.connect({
    host: server.host,
    port: server.port,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    passphrase: options.passphrase,
    // SNI takes host names only; for an IP literal Node checks the certificate's IP addresses instead.
    servername: options.servername ?? (net.isIP(server.host) ? undefined : server.host),
    // Stated, not inherited: a server certificate that does not verify ends the connection.
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  return { socket, readyEvent: 'secureConnect' };
}

/** Why a TLS connection failed, in terms of the options, for the codes an operator is likely to meet. */
const HINTS: Array<[RegExp, string]> = [
  [/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?)$/, "the server's certificate is not signed by a CA in `tls.ca`"],
  [/^ERR_TLS_CERT_ALTNAME_INVALID$/, "the server's certificate does not name the host dialed; set `tls.servername` to a name it carries"],
  [/^CERT_(HAS_EXPIRED|NOT_YET_VALID)$/, "the server's certificate is outside its validity period"],
  [/ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|HANDSHAKE_FAILURE|CERTIFICATE_UNKNOWN)$/, 'the server refused our client certificate (none given, or not signed by a CA it trusts): check `tls.cert` and `tls.key`'],
  [/^ECONNRESET$/, "the server closed the connection during the TLS handshake: is this port the server's secureClientPort?"],
];

/**
 * A message naming TLS when `error` is a TLS failure, else undefined (refused, unreachable, reset after
 * the TLS handshake: network trouble the reconnect loop handles quietly, as on plain connections).
 * `secured`: the TLS handshake had completed. Never carries key material: only Node's error text.
 */
export function describeTlsFailure(server: { host: string; port: number }, error: Error, secured: boolean): string | undefined {
  const code = String((error as { code?: unknown }).code ?? '');
  const errno = /^E[A-Z]+$/.test(code);
  const duringHandshake = !secured && (!errno || /TLS/.test(error.message));
  // After our handshake a server that rejects the client certificate (TLS 1.3) sends its alert late.
  const refusedLate = secured && code.startsWith('ERR_SSL_');
  if (!duringHandshake && !refusedLate) return undefined;
  const hint = HINTS.find(([pattern]) => pattern.test(code))?.[1];
  // OpenSSL's own errors carry a short `reason` next to a message full of source file positions.
  const reason = (error as { reason?: unknown }).reason;
  const what = typeof reason === 'string' && reason ? reason : error.message.trim();
  return `TLS connection to ${server.host}:${server.port} failed: ${what}${code ? ` (${code})` : ''}${hint ? `; ${hint}` : ''}`;
}
