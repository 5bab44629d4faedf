/** @Locked on provider methods, in real Nest applications on a real ZooKeeper: two instances, two sessions. */
import { Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test, TestingModule } from '@nestjs/testing';
import {
  currentLock,
  InvalidLockIdError,
  LockConflictError,
  Locked,
  LOCKED_METADATA,
  ZookeeperLockModule,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { sharedConnectString, uniqueNamespace, waitForChildren } from './support/zookeeper';

/** A promise the test resolves: keeps a method inside its lock. */
function gate() {
  let open!: () => void;
  let enter!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  return { open, opened, entered, enter };
}

@Injectable()
class Jobs {
  nightlyRuns = 0;
  nightlyGate?: ReturnType<typeof gate>;
  fulfilGate?: ReturnType<typeof gate>;
  readonly prefix = 'order-';

  @Locked('nightly', { onConflict: 'skip', scope: 'jobs' })
  async nightly(): Promise<string | undefined> {
    this.nightlyRuns += 1;
    this.nightlyGate?.enter();
    await this.nightlyGate?.opened;
    return 'ran';
  }

  @Locked(function (this: Jobs, orderId: string) {
    return this.prefix + orderId;
  }, { scope: 'orders' })
  async fulfil(orderId: string): Promise<{ orderId: string; fencingToken: bigint }> {
    this.fulfilGate?.enter();
    await this.fulfilGate?.opened;
    return { orderId, fencingToken: await currentLock()!.fencingToken() };
  }

  @Locked((a: string, b: string) => [a, b], { wait: 10_000, scope: 'orders' })
  async merge(a: string, b: string): Promise<string> {
    return `${a}+${b}`;
  }

  // The types ask for a method declared to return a promise; at run time a synchronous one works too.
  @(Locked('tagged') as MethodDecorator)
  @SetMetadata('custom', 'kept')
  tagged(): string {
    return 'sync method, async now';
  }

  @Locked(() => '')
  async badId(): Promise<void> {}
}

describe('@Locked provider methods', () => {
  const namespace = uniqueNamespace('locked');
  let first: TestingModule;
  let second: TestingModule;
  let jobsA: Jobs;
  let jobsB: Jobs;

  async function instance(): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, sessionTimeout: 4_000 })],
      providers: [Jobs],
    }).compile();
    await moduleRef.init();
    return moduleRef;
  }

  beforeAll(async () => {
    [first, second] = await Promise.all([instance(), instance()]);
    jobsA = first.get(Jobs);
    jobsB = second.get(Jobs);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it("skips the method on the other instance while one runs it (onConflict: 'skip')", async () => {
    jobsA.nightlyGate = gate();
    const running = jobsA.nightly();
    await jobsA.nightlyGate.entered;
    const zk = first.get(ZookeeperService);
    expect(await zk.exists(`${namespace}/jobs/nightly`)).not.toBeNull();
    await expect(jobsB.nightly()).resolves.toBeUndefined();
    expect(jobsB.nightlyRuns).toBe(0);
    jobsA.nightlyGate.open();
    await expect(running).resolves.toBe('ran');
    expect(await zk.exists(`${namespace}/jobs/nightly`)).toBeNull();
    await expect(jobsB.nightly()).resolves.toBe('ran');
  });

  it('throws LockConflictError by default, with the id computed from the arguments and `this`', async () => {
    jobsA.fulfilGate = gate();
    const running = jobsA.fulfil('42');
    await jobsA.fulfilGate.entered;
    await expect(jobsB.fulfil('42')).rejects.toMatchObject({ constructor: LockConflictError, ids: ['order-42'], scope: 'orders' });
    jobsA.fulfilGate.open();
    const done = await running;
    expect(done.orderId).toBe('42');
    expect(done.fencingToken).toBeGreaterThan(0n);
    jobsA.fulfilGate = undefined;
    await expect(jobsB.fulfil('43')).resolves.toMatchObject({ orderId: '43' });
  });

  it('waits with `wait`, and locks several ids from the arguments', async () => {
    jobsA.fulfilGate = gate();
    const holding = jobsA.fulfil('x'); // holds orders/order-x
    await jobsA.fulfilGate.entered;
    const merged = jobsB.merge('order-x', 'order-y');
    await waitForChildren(second.get(ZookeeperService), `${namespace}/orders/order-x%q`, 1); // B queues
    const gateA = jobsA.fulfilGate;
    jobsA.fulfilGate = undefined;
    gateA.open();
    await holding;
    await expect(merged).resolves.toBe('order-x+order-y');
  });

  it('keeps metadata other decorators put on the method, and records its own', () => {
    const reflector = new Reflector();
    expect(reflector.get('custom', Jobs.prototype.tagged)).toBe('kept');
    expect(reflector.get(LOCKED_METADATA, Jobs.prototype.tagged)).toMatchObject({ idFrom: 'tagged', options: {} });
    expect(Jobs.prototype.tagged.name).toBe('tagged');
  });

  it('makes a synchronous method return a promise', async () => {
    const result = jobsA.tagged();
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe('sync method, async now');
  });

  it('rejects with InvalidLockIdError when the id function gives no valid id', async () => {
    await expect((async () => jobsA.badId())()).rejects.toBeInstanceOf(InvalidLockIdError);
  });

  it('explains itself when called on an instance no Nest application wired', async () => {
    await expect(new Jobs().nightly()).rejects.toThrow(/no LockService on this instance/);
  });

  it('refuses bad decorator arguments when the class is defined', () => {
    expect(() => Locked('')).toThrow(TypeError);
    expect(() => Locked(['a', 3] as unknown as string[])).toThrow(TypeError);
    expect(() => Locked('a', { wait: -1 })).toThrow(/wait/);
    expect(() => Locked('a', { onConflict: 'ignore' as 'skip' })).toThrow(/onConflict/);
    expect(() => Locked('a', { scope: '' })).toThrow(/scope/);
  });

  it("refuses a fixed id that looks like a @WithLock request path ('params.id'), and says what to write", () => {
    // The compiler refuses these too (test/types/locked.types.ts); plain JavaScript gets it at class definition.
    for (const path of ['params.id', 'body.orderId', 'query.key', 'headers.x-id', 'args.id']) {
      expect(() => Locked(path as never)).toThrow(new RegExp(`@Locked\\('${path}'\\): a fixed id that looks like a @WithLock request path`));
      expect(() => Locked(['ok', path] as never)).toThrow(/request path/);
    }
    expect(() => Locked('params.id' as never)).toThrow(/@Locked\(\(id: string\) => id\).*@Locked\(\(\) => 'params\.id'\)/);
    // Ids that merely contain a dot, and the literal id returned from a function, are fine.
    for (const id of ['report.daily', 'params', 'params.', 'paramsx.id']) expect(() => Locked(id)).not.toThrow();
    expect(() => Locked(() => 'params.id')).not.toThrow();
  });
});
