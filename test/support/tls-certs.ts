/**
 * Throw-away certificates for TLS tests, made with the openssl command line in a temp dir:
 *
 *   const pki = makeTestPki();   // a CA, a server and a client certificate signed by it, and an unrelated CA
 *   pki.file('server.pem')       // paths for the ZooKeeper server's PEM key and trust stores
 *   pki.read('client.key')       // PEM contents for the client's options
 *   pki.remove();
 *
 * Both leaf certificates name localhost and 127.0.0.1: the client checks the server's against the address
 * it dials, and ZooKeeper's hostname verification may check the client's against the address it comes from.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  readonly dir: string;
  /** Absolute path of one of the generated files. */
  file(name: PkiFile): string;
  /** Contents of one of the generated files. */
  read(name: PkiFile): Buffer;
  remove(): void;
}

/**
 * `ca.pem`: the CA both sides trust. `other-ca.pem`: a CA that signed nothing here (the wrong-CA case).
 * `server.pem` / `client.pem`: key then certificate in one file, as ZooKeeper's PEM key store wants it.
 */
export type PkiFile = 'ca.pem' | 'other-ca.pem' | 'server.crt' | 'server.key' | 'server.pem' | 'client.crt' | 'client.key' | 'client.pem';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
}

function makeLeaf(dir: string, name: string, subject: string, usage: 'serverAuth' | 'clientAuth'): void {
  fs.writeFileSync(
    path.join(dir, `${name}.ext`),
    ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`, 'subjectAltName=DNS:localhost,IP:127.0.0.1', ''].join('\n'),
  );
  openssl(dir, ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-sha256', '-days', '2', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  fs.writeFileSync(path.join(dir, `${name}.pem`), Buffer.concat([fs.readFileSync(path.join(dir, `${name}.key`)), fs.readFileSync(path.join(dir, `${name}.crt`))]));
}

export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nzl-pki-'));
  try {
    makeCa(dir, 'ca', '/CN=nzl test CA');
    makeCa(dir, 'other-ca', '/CN=nzl unrelated CA');
    makeLeaf(dir, 'server', '/CN=localhost', 'serverAuth');
    makeLeaf(dir, 'client', '/CN=nzl test client', 'clientAuth');
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl could not make the test certificates (is openssl installed?): ${(error as Error).message} ${stderr}`);
  }
  return {
    dir,
    file: (name) => path.join(dir, name),
    read: (name) => fs.readFileSync(path.join(dir, name)),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** zoo.cfg lines for a TLS client port on `port` with these certificates (PEM stores, ZooKeeper 3.6+). */
export function tlsServerConfig(pki: TestPki, port: number, clientAuth: 'need' | 'want' | 'none' = 'need'): string[] {
  return [
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `secureClientPort=${port}`,
    'secureClientPortAddress=127.0.0.1',
    `ssl.keyStore.location=${pki.file('server.pem')}`,
    'ssl.keyStore.type=PEM',
    `ssl.trustStore.location=${pki.file('ca.pem')}`,
    'ssl.trustStore.type=PEM',
    `ssl.clientAuth=${clientAuth}`,
  ];
}
