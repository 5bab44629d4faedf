/**
 * TLS to a real ZooKeeper's secureClientPort (Netty, PEM key and trust stores, `ssl.clientAuth=need`),
 * with certificates made by openssl for this run. One server serves both ports: the plain clientPort is
 * the control that shows what TLS hides.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { InvalidZookeeperLockOptionsError, resolveOptions } from '../lib/module/zookeeper-lock-options';
import type { ZookeeperLockModuleOptions, ZookeeperTlsOptions } from '../lib/module/zookeeper-lock-options.interface';
import { ZookeeperService, ZookeeperStateEvent } from '../lib/zookeeper/zookeeper.service';
import { newLockService } from './support/locks';
import { startProxy, TcpProxy } from './support/tcp-proxy';
import { TestPki, makeTestPki, tlsServerConfig } from './support/tls-certs';
import { TestServer, cleanup, harness, listTree, newService, startServer, uniqueNamespace, waitForState } from './support/zookeeper';

let pki: TestPki;
let server: TestServer;
let securePort: number;
const proxies: TcpProxy[] = [];
const subscriptions: Subscription[] = [];
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  pki = makeTestPki();
  [securePort] = await harness.freePorts(1);
  server = await startServer({ config: tlsServerConfig(pki, securePort, 'need') });
});

afterEach(async () => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  jest.restoreAllMocks();
  expect(uncaught).toEqual([]);
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await cleanup(); // closes every service, stops the server
  pki?.remove();
});

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startProxy(port);
  proxies.push(proxy);
  return proxy;
}

/** The options of a client that does everything right. */
function mutualTls(): ZookeeperTlsOptions {
  return { ca: pki.read('ca.pem'), cert: pki.read('client.crt'), key: pki.read('client.key') };
}

function record(zk: ZookeeperService): ZookeeperStateEvent[] {
  const events: ZookeeperStateEvent[] = [];
  subscriptions.push(zk.state$.subscribe((e) => events.push(e)));
  return events;
}

function errorsLogged(): jest.SpyInstance {
  return jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
}

function messages(spy: jest.SpyInstance): string[] {
  return spy.mock.calls.map((call) => String(call[0]));
}

function lastSocketOf(zk: ZookeeperService): Socket | undefined {
  return (zk as unknown as { session?: { client: { connectionManager: { socket?: Socket } } } }).session?.client.connectionManager.socket;
}

/** Sockets open in this process (a TLS socket is one TCPSocketWrap). */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/** Takes and releases one lock while authenticated as alice:<password>; returns what crossed the proxy. */
async function lockThrough(proxy: TcpProxy, password: string, tls?: ZookeeperTlsOptions): Promise<{ wire: Buffer; namespace: string }> {
  const wire = proxy.capture();
  const namespace = uniqueNamespace('tls');
  const zk = await newService({ connectionString: proxy.connectString, auth: `alice:${password}`, acl: 'creator', namespace, ...(tls && { tls }) });
  const locks = newLockService(zk);
  const lock = await locks.acquire('account-42');
  const held = await listTree(zk, namespace);
  await lock.release();
  expect((await listTree(zk, namespace)).length).toBeLessThan(held.length); // its node is gone
  await zk.close();
  return { wire: wire(), namespace };
}

describe('mutual TLS', () => {
  it('connects, takes and releases a lock, and the digest password never crosses the wire in clear', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const { wire, namespace } = await lockThrough(await proxyTo(securePort), password, mutualTls());
    expect(wire.length).toBeGreaterThan(1000);
    expect(wire[0]).toBe(0x16); // a TLS handshake record, not a ZooKeeper ConnectRequest
    expect(wire.includes(password)).toBe(false);
    expect(wire.includes('alice')).toBe(false);
    expect(wire.includes(namespace)).toBe(false);
  });

  it('(control) on the plain port the same exchange shows the password and the lock path', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const { wire, namespace } = await lockThrough(await proxyTo(server.clientPort), password);
    expect(wire.includes(`alice:${password}`)).toBe(true);
    expect(wire.includes(namespace)).toBe(true);
  });

  it('verifies the server against tls.servername when one is given', async () => {
    const zk = await newService({ connectionString: `127.0.0.1:${securePort}`, tls: { ...mutualTls(), servername: 'localhost' } });
    expect(zk.state).toBe('connected');
    await zk.close();
  });
});

describe('refused TLS connections', () => {
  /** Starts a service that must never connect; returns its state events and the error log. */
  async function neverConnects(options: Partial<ZookeeperLockModuleOptions>) {
    const logged = errorsLogged();
    const before = openSockets();
    const proxy = await proxyTo(securePort);
    const zk = await newService({ connectionString: proxy.connectString, sessionTimeout: 2_000, connectTimeout: 500, ...options }, { connect: false });
    const events = record(zk);
    expect(await zk.connect()).toBe(false);
    await waitForState(zk, 'unavailable', 10_000);
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(events.map((e) => e.state)).not.toContain('connected');
    expect(proxy.accepted).toBeGreaterThan(1); // it kept trying
    const acceptedBeforeClose = proxy.accepted;
    const last = lastSocketOf(zk); // the attempt under way, which close() must end
    await zk.close();
    if (last && !last.closed) await once(last, 'close');
    // The proxy's close resolves once each of its sockets has closed, so the client's side is closed too.
    await proxy.close();
    // A TLS socket's 'close' comes before its TCP handle's own close callback, which runs in this turn's close phase.
    await new Promise((resolve) => setImmediate(resolve));
    expect(openSockets()).toBe(before); // nothing left running: no socket of the client...
    expect(proxy.accepted - acceptedBeforeClose).toBeLessThanOrEqual(1); // ...and no retry loop after close
    const tlsErrors = messages(logged).filter((m) => m.startsWith('TLS connection to'));
    return { tlsErrors, logged: messages(logged) };
  }

  it('a server CA not in tls.ca: refused, named as a certificate problem, reported once, never connected', async () => {
    const { tlsErrors, logged } = await neverConnects({ tls: { ...mutualTls(), ca: pki.read('other-ca.pem') } });
    expect(tlsErrors).toHaveLength(1); // one line per cause, however many retries
    expect(tlsErrors[0]).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE.*not signed by a CA in `tls.ca`/);
    expect(logged.find((m) => m.includes('no member answered a handshake'))).toMatch(/last failure: TLS connection to .* failed/);
  });

  it('no client certificate for a server that needs one: refused, named as a client certificate problem', async () => {
    const { tlsErrors } = await neverConnects({ tls: { ca: pki.read('ca.pem') } });
    expect(tlsErrors).toHaveLength(1);
    expect(tlsErrors[0]).toMatch(/refused our client certificate.*`tls.cert`/);
  });

  it('a tls.servername the server certificate does not carry: refused, named as a name mismatch', async () => {
    const { tlsErrors } = await neverConnects({ tls: { ...mutualTls(), servername: 'zk.example.com' } });
    expect(tlsErrors).toHaveLength(1);
    expect(tlsErrors[0]).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*`tls.servername`/);
  });

  it('a TLS client pointed at the plain port: named, with the likely cause', async () => {
    const logged = errorsLogged();
    const zk = await newService(
      { connectionString: `127.0.0.1:${server.clientPort}`, sessionTimeout: 2_000, connectTimeout: 500, tls: mutualTls() },
      { connect: false },
    );
    expect(await zk.connect()).toBe(false);
    await zk.close();
    expect(messages(logged).find((m) => m.startsWith('TLS connection to'))).toMatch(/secureClientPort/);
  });
});

describe('tls option validation', () => {
  const base = { connectionString: 'localhost:2281' };
  const invalid = (tls: unknown) => {
    try {
      resolveOptions({ ...base, tls } as ZookeeperLockModuleOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidZookeeperLockOptionsError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('a certificate without its key, and a key without its certificate', () => {
    expect(invalid({ cert: pki.read('client.crt') })).toMatch(/option `tls.cert` needs `tls.cert` and `tls.key` together/);
    expect(invalid({ key: pki.read('client.key') })).toMatch(/option `tls.key` needs/);
  });

  it('a key that does not belong to the certificate, without repeating the key', () => {
    const key = pki.read('server.key');
    const message = invalid({ cert: pki.read('client.crt'), key });
    expect(message).toMatch(/option `tls.cert\/tls.key` cannot be used together: .*mismatch/);
    expect(message).not.toContain('BEGIN');
    const body = key.toString().split('\n')[1];
    expect(message).not.toContain(body.slice(0, 20));
  });

  it('a broken key, without repeating it', () => {
    const broken = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n';
    const message = invalid({ cert: pki.read('client.crt'), key: broken });
    expect(message).toMatch(/option `tls.cert\/tls.key`/);
    expect(message).not.toContain('c2VjcmV0');
  });

  it('file names, non-PEM data and wrong types', () => {
    expect(invalid({ ca: pki.file('ca.pem') })).toMatch(/option `tls.ca` must be PEM contents, not a file name: pass fs.readFileSync/);
    expect(invalid({ ca: Buffer.from([0x30, 0x82, 0x01]) })).toMatch(/option `tls.ca` must be PEM CA certificate\(s\).*DER is not accepted/);
    expect(invalid({ ca: [pki.read('ca.pem'), 'junk'] })).toMatch(/option `tls.ca\[1\]`/);
    expect(invalid({ ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })).toMatch(/option `tls.ca` is not a readable PEM certificate/);
    expect(invalid({ ca: [] })).toMatch(/option `tls.ca` must not be an empty array/);
    expect(invalid({ cert: 42, key: pki.read('client.key') })).toMatch(/option `tls.cert` must be PEM certificate as a string or Buffer, got number/);
    expect(invalid(true)).toMatch(/option `tls` must be an object/);
    expect(invalid({ ...mutualTls(), passphrase: 7 })).toMatch(/option `tls.passphrase` must be a string/);
    expect(invalid({ passphrase: 'x' })).toMatch(/option `tls.passphrase` is given without `tls.key`/);
  });

  it('switching verification off is refused by name; unknown keys too', () => {
    expect(invalid({ ca: pki.read('ca.pem'), rejectUnauthorized: false })).toMatch(/option `tls.rejectUnauthorized` is not supported: the server certificate is always verified/);
    expect(invalid({ checkServerIdentity: () => undefined })).toMatch(/option `tls.checkServerIdentity` is not supported/);
    expect(invalid({ certificate: 'x' })).toMatch(/option `tls.certificate` is not a TLS option/);
  });

  it('servername must be a host name, not an IP', () => {
    expect(invalid({ servername: '127.0.0.1' })).toMatch(/option `tls.servername` must be a host name, not an IP address/);
    expect(invalid({ servername: 'bad name' })).toMatch(/option `tls.servername` must be a host name/);
  });

  it('accepts PEM strings and Buffers, and no tls at all', () => {
    const resolved = resolveOptions({ ...base, tls: { ca: pki.read('ca.pem').toString(), cert: pki.read('client.crt'), key: pki.read('client.key').toString(), servername: 'zk.example.com' } });
    expect(resolved.tls).toMatchObject({ servername: 'zk.example.com' });
    expect(resolved.tls?.ca).toHaveLength(1);
    expect(resolveOptions(base).tls).toBeUndefined();
    expect(resolveOptions({ ...base, tls: {} }).tls).toEqual({}); // TLS with the public root CAs
  });

  it('the service refuses bad tls options at construction', () => {
    expect(() => new ZookeeperService({ ...base, tls: { key: 'x' } } as ZookeeperLockModuleOptions)).toThrow(/option `tls.key`/);
  });
});
