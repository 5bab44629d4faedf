import { hostname } from 'node:os';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidZookeeperLockOptionsError,
  LockService,
  WithLock,
  ZOOKEEPER_LOCK_OPTIONS,
  ZookeeperLockModule,
  ZookeeperLockModuleOptions,
  ZookeeperLockOptionsFactory,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { resolveOptions } from '../lib/module/zookeeper-lock-options';
import { cleanup, newService, sharedConnectString, uniqueNamespace } from './support/zookeeper';

afterEach(cleanup);

@Injectable()
class FakeConfig {
  get(key: string): string | undefined {
    return { ZK: sharedConnectString(), NS: '/from-config' }[key];
  }
}

@Module({ providers: [FakeConfig], exports: [FakeConfig] })
class FakeConfigModule {}

describe('ZookeeperLockModule', () => {
  it('forRoot connects on init and the app shutdown closes the session (ephemeral nodes vanish at once)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), sessionTimeout: 30_000 })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const zk = app.get(ZookeeperService);
    expect(zk.state).toBe('connected');

    const observer = await newService();
    const root = uniqueNamespace('shutdown');
    await zk.mkdirp(root);
    await zk.create(`${root}/held`, { mode: 'ephemeral' });
    expect(await observer.exists(`${root}/held`)).not.toBeNull();

    await app.close();
    expect(await observer.exists(`${root}/held`)).toBeNull();
  });

  it('forRootAsync takes its options from a factory with injected providers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ZookeeperLockModule.forRootAsync({
          imports: [FakeConfigModule],
          inject: [FakeConfig],
          useFactory: (config: FakeConfig) => ({
            connectionString: config.get('ZK') as string,
            namespace: config.get('NS'),
          }),
        }),
      ],
    }).compile();
    await moduleRef.init();
    const zk = moduleRef.get(ZookeeperService);
    expect(zk.options.namespace).toBe('/from-config');
    expect(zk.state).toBe('connected');
    await moduleRef.close();
    expect(zk.state).toBe('closed');
  });

  it('forRootAsync takes its options from a useClass implementing ZookeeperLockOptionsFactory', async () => {
    @Injectable()
    class LockConfig implements ZookeeperLockOptionsFactory {
      constructor(private readonly config: FakeConfig) {}
      async createZookeeperLockOptions(): Promise<ZookeeperLockModuleOptions> {
        return { connectionString: this.config.get('ZK') as string, namespace: `${this.config.get('NS')}-class` };
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRootAsync({ imports: [FakeConfigModule], useClass: LockConfig })],
    }).compile();
    await moduleRef.init();
    const zk = moduleRef.get(ZookeeperService);
    expect(zk.options.namespace).toBe('/from-config-class');
    expect(zk.state).toBe('connected');
    await moduleRef.close();
  });

  it('names its options token after the module', () => {
    expect(ZOOKEEPER_LOCK_OPTIONS).toBe('ZOOKEEPER_LOCK_MODULE_OPTIONS');
  });

  it('is global by default: LockService, ZookeeperService and @WithLock work in modules that do not import it', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly zk: ZookeeperService, readonly locks: LockService) {}
    }
    @Controller('items')
    class ItemsController {
      @Get(':id')
      @WithLock('params.id')
      get(): string {
        return 'ok';
      }
    }
    @Module({ providers: [Consumer], controllers: [ItemsController] })
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString() }), FeatureModule],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    expect(moduleRef.get(Consumer).zk).toBeInstanceOf(ZookeeperService);
    expect(moduleRef.get(Consumer).locks).toBeInstanceOf(LockService);
    await app.close();
  });

  it('isGlobal: false keeps it local: @WithLock in a module that does not import it is the DI error the README explains', async () => {
    @Controller('items')
    class ItemsController {
      @Get(':id')
      @WithLock('params.id')
      get(): string {
        return 'ok';
      }
    }
    @Module({ controllers: [ItemsController] })
    class FeatureModule {}
    const attempt = Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), isGlobal: false }), FeatureModule],
    }).compile();
    await expect(attempt).rejects.toThrow(/can't resolve dependencies of the WithLockHostInterceptor \(\?, Reflector, WithLockInterceptor, ModuleRef\)/);
  });

  it('refuses invalid options at start-up with a message naming the option', async () => {
    const attempt = Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: 'localhost:99999' })],
    }).compile();
    await expect(attempt).rejects.toThrow(/`connectionString`/);
  });
});

describe('resolveOptions', () => {
  const ok = { connectionString: 'localhost:2181' };

  it('fills in documented defaults', () => {
    expect(resolveOptions(ok)).toEqual({
      connectionString: 'localhost:2181',
      namespace: '/locks',
      sessionTimeout: 15_000,
      connectTimeout: 5_000,
      operationTimeout: 5_000,
      auth: [],
      acl: 'open',
      retryDelay: 1_000,
      shutdownTimeout: 10_000,
      maxHold: Infinity,
      maxWaiters: { perId: 100, perProcess: 5000 },
      ownerName: `${hostname()}/${process.pid}`,
      lockLostWarning: false,
    });
  });

  it('accepts ensembles, chroots and IPv6 hosts', () => {
    expect(resolveOptions({ connectionString: 'zk1:2181,zk2:2182,[::1]:2183/app/locks' }).connectionString).toBe(
      'zk1:2181,zk2:2182,[::1]:2183/app/locks',
    );
  });

  it.each([
    [{}, /`connectionString` is required/],
    [{ connectionString: '' }, /`connectionString` is required/],
    [{ connectionString: 'host:port' }, /`connectionString` has an invalid server/],
    [{ connectionString: 'a:2181/bad/' }, /`connectionString \(chroot\)`/],
    [{ ...ok, namespace: 'locks' }, /`namespace` must be an absolute/],
    [{ ...ok, namespace: '/' }, /`namespace` must be a path below the root/],
    [{ ...ok, namespace: '/a/../b' }, /`namespace` must not contain/],
    [{ ...ok, sessionTimeout: 10 }, /`sessionTimeout` must be an integer of at least 1000/],
    [{ ...ok, operationTimeout: 1.5 }, /`operationTimeout`/],
    [{ ...ok, connectTimeout: -1 }, /`connectTimeout`/],
    [{ ...ok, shutdownTimeout: -1 }, /`shutdownTimeout` must be an integer of at least 0/],
    [{ ...ok, shutdownTimeout: 2 ** 31 }, /`shutdownTimeout` must be at most 2147483647/],
    [{ ...ok, auth: 'nocolon' }, /`auth` must be digest credentials/],
    [{ ...ok, acl: 'creator' }, /`acl` `creator` needs `auth`/],
    [{ ...ok, lockLostWarning: 'yes' }, /`lockLostWarning` must be true or false/],
    [{ ...ok, acl: [{ scheme: 'world', id: 'anyone', permissions: ['fly'] }] }, /`acl` has an invalid entry/],
    [{ ...ok, errorFactory: 'conflict' }, /`errorFactory` must be a function/],
    [{ ...ok, exposeLockIds: 'yes' }, /`exposeLockIds` must be true or false/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveOptions(options as never)).toThrow(InvalidZookeeperLockOptionsError);
    expect(() => resolveOptions(options as never)).toThrow(message);
  });

  // Start-up errors land in logs and crash reports: they must not repeat a password or a digest hash.
  it.each([
    ['user:s3cret@zk1:2181', 's3cret'],
    ['user:s3/cret@zk1:2181/chroot', 's3'],
    ['zk0:2181,admin:hunter2@zk1:2181', 'hunter2'],
  ])('refuses credentials in the connection string %s without echoing them', (connectionString, secret) => {
    const error = catchError(() => resolveOptions({ connectionString }));
    expect(error).toBeInstanceOf(InvalidZookeeperLockOptionsError);
    expect(error.message).toMatch(/`connectionString` must not carry credentials .*`auth` option/);
    expect(error.message).toContain('<redacted>@zk1:2181');
    expect(error.message).not.toContain(secret);
  });

  it('names an invalid digest ACL entry without its hash', () => {
    const hash = 'uXJd1Bg0Z0Jd+7fK3Np9sQ1yqXo=';
    const error = catchError(() =>
      resolveOptions({ ...ok, auth: 'app:pw', acl: [{ scheme: 'digest', id: `app:${hash}`, permissions: ['fly'] }] } as never),
    );
    expect(error.message).toMatch(/`acl` has an invalid entry .*"app:<redacted>"/);
    expect(error.message).not.toContain(hash);
  });
});

function catchError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
