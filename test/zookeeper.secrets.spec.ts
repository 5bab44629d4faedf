/**
 * No secret on a public property (#14): ZookeeperService.options, and any dump of the service (JSON, util.inspect,
 * console.log), show credentials, digest hashes, TLS keys and the hashIds secret redacted, while the service
 * itself keeps using them (the lock below needs the real password for its ACL check).
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { LockService } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { makeTestPki, TestPki } from './support/tls-certs';
import { cleanup, newService, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

const PASSWORD = 'pw-SECRET-7f3a';
const HASH_SECRET = 'hash-SECRET-0123456789abcdef';
const digestOf = (credentials: string) => `${credentials.split(':')[0]}:${createHash('sha1').update(credentials).digest('base64')}`;

/** Everything a log line, an error reporter or a debugger's console could print of `value`. */
function dumps(value: unknown): string[] {
  return [JSON.stringify(value), inspect(value), inspect(value, { depth: Infinity, showHidden: true }), `${inspect(value, { depth: null })}`];
}

describe('ZookeeperService: no secrets on public properties', () => {
  let pki: TestPki | undefined;
  afterAll(() => pki?.remove());

  it('redacts auth, digest ACL ids and the hashIds secret in options and dumps, and still locks with them', async () => {
    const namespace = uniqueNamespace('secrets');
    const zk = await newService({ namespace, auth: `alice:${PASSWORD}`, acl: 'creator', hashIds: { secret: HASH_SECRET } });
    const other = await newService({
      namespace: uniqueNamespace('secrets-acl'),
      auth: `bob:${PASSWORD}`,
      acl: [{ scheme: 'digest', id: digestOf(`bob:${PASSWORD}`), permissions: ['all'] }],
    });

    // The real credentials are in use: the namespace carries alice's digest, and a lock passes the ACL check
    // (which computes that digest from the password: a redacted one would refuse it with a 503).
    const locks: LockService = newLockService(zk);
    const lock = await locks.acquire('acct-1');
    expect(await zk.getAcl(namespace)).toEqual([expect.objectContaining({ scheme: 'digest', id: digestOf(`alice:${PASSWORD}`) })]);
    await lock.release();
    await (await newLockService(other).acquire('acct-1')).release();

    expect(zk.options.auth).toEqual(['alice:<redacted>']);
    expect(zk.options.hashIds).toEqual({ secret: '<redacted>' });
    expect(other.options.acl).toEqual([{ scheme: 'digest', id: 'bob:<redacted>', permissions: ['all'] }]);
    for (const text of [...dumps(zk), ...dumps(zk.options), ...dumps(other), ...dumps(other.options)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(HASH_SECRET);
      expect(text).not.toContain(digestOf(`alice:${PASSWORD}`).split(':')[1]);
      expect(text).not.toContain(digestOf(`bob:${PASSWORD}`).split(':')[1]);
      expect(text).toMatch(/(alice|bob):<redacted>/);
    }
    expect(JSON.parse(JSON.stringify(zk))).toMatchObject({ state: 'connected', options: { namespace, auth: ['alice:<redacted>'] } });
    expect(() => ((zk.options as { namespace: string }).namespace = '/elsewhere')).toThrow(TypeError); // frozen: no silent no-op
  });

  it('redacts the TLS private key and its passphrase', async () => {
    pki = makeTestPki();
    const key = pki.read('client.key').toString();
    const zk = await newService({ tls: { ca: pki.read('ca.pem'), cert: pki.read('client.crt'), key } }, { connect: false });
    expect(zk.options.tls).toMatchObject({ key: '<redacted>' });
    expect(zk.options.tls?.cert).toEqual(pki.read('client.crt')); // a certificate is public
    const keyBody = key.split('\n')[1]; // a line of the base64 body
    for (const text of [...dumps(zk), ...dumps(zk.options)]) expect(text).not.toContain(keyBody);
  });
});
