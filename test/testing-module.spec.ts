/**
 * What a user's unit test looks like with ZookeeperLockTestingModule: the application module imports
 * the real ZookeeperLockModule (pointing at a server that does not exist), the test swaps it for the
 * in-memory one, and controllers, @WithLock and @Locked work without any ZooKeeper.
 */
import { Controller, HttpException, INestApplication, Injectable, Module, Param, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  CurrentLock,
  LockConflictError,
  LockEvent,
  LockHandle,
  LockLostError,
  Locked,
  LockService,
  WithLock,
  ZookeeperLockModule,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, ZookeeperLockTestingModule, OfflineZookeeperService } from 'nestjs-zookeeper-lock/testing';
import { LOCK_BACKEND } from '../lib/lock/lock-backend';

@Injectable()
class Settlement {
  runs = 0;

  @Locked('settlement', { onConflict: 'skip' })
  async settle(): Promise<string | undefined> {
    this.runs += 1;
    return 'settled';
  }

  @Locked((orderId: string) => `order-${orderId}`)
  async ship(orderId: string): Promise<string> {
    return `shipped ${orderId}`;
  }
}

let entered: () => void = () => undefined;
let proceed: Promise<void> = Promise.resolve();

@Controller('orders')
class OrdersController {
  @Post(':id/pay')
  @WithLock('params.id', { scope: 'orders' })
  async pay(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
    entered();
    await proceed;
    return { paid: id, lost: lock.signal.aborted };
  }
}

@Module({
  imports: [ZookeeperLockModule.forRoot({ connectionString: 'zookeeper.invalid:2181', connectTimeout: 60_000, isGlobal: true, exposeLockIds: true })],
  controllers: [OrdersController],
  providers: [Settlement],
})
class UserAppModule {}

describe('ZookeeperLockTestingModule', () => {
  let app: INestApplication;
  const backend = new InMemoryLockBackend();

  beforeAll(async () => {
    const moduleRef = await ZookeeperLockTestingModule.override(Test.createTestingModule({ imports: [UserAppModule] }), backend).compile();
    app = moduleRef.createNestApplication();
    await app.init(); // with the real ZookeeperService this would wait connectTimeout (60 s) for a server
  });
  afterAll(() => app.close());

  it('swaps the real module\'s providers: no ZooKeeper connection is attempted', async () => {
    const zk = app.get(ZookeeperService);
    expect(zk).toBeInstanceOf(OfflineZookeeperService);
    expect(zk.sessionId).toBeUndefined();
    await expect(zk.exists('/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(app.get(LOCK_BACKEND)).toBe(backend);
  });

  it('serves @WithLock routes, with 409 while the lock is held elsewhere', async () => {
    await request(app.getHttpServer()).post('/orders/1/pay').expect(201, { paid: '1', lost: false });
    const release = backend.holdElsewhere('1', { scope: 'orders' });
    const conflict = await request(app.getHttpServer()).post('/orders/1/pay').expect(409);
    expect(conflict.headers['retry-after']).toBe('1');
    // The module's answer options hold under override (here exposeLockIds: the 409 names the id).
    expect(conflict.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'LOCK_CONFLICT',
      message: 'The resource is locked by another request; try again later',
      ids: ['1'],
    });
    release();
    await request(app.getHttpServer()).post('/orders/1/pay').expect(201);
  });

  it('answers 503 while ZooKeeper is "unavailable"', async () => {
    backend.unavailable = true;
    try {
      await request(app.getHttpServer()).post('/orders/2/pay').expect(503);
    } finally {
      backend.unavailable = false;
    }
  });

  it('aborts the handler\'s signal when the session "expires"', async () => {
    let inside!: () => void;
    const isInside = new Promise<void>((resolve) => (inside = resolve));
    let go!: () => void;
    proceed = new Promise<void>((resolve) => (go = resolve));
    entered = inside;
    const pending = request(app.getHttpServer()).post('/orders/3/pay');
    const response = pending.then((r) => r);
    await isInside;
    backend.expireSession();
    go();
    expect((await response).body).toEqual({ paid: '3', lost: true });
    entered = () => undefined;
    proceed = Promise.resolve();
  });

  it('runs @Locked provider methods under the lock: skip or throw on conflict', async () => {
    const settlement = app.get(Settlement);
    await expect(settlement.settle()).resolves.toBe('settled');
    const release = backend.holdElsewhere('settlement');
    await expect(settlement.settle()).resolves.toBeUndefined();
    expect(settlement.runs).toBe(1);
    release();

    const releaseOrder = backend.holdElsewhere('order-7');
    await expect(settlement.ship('7')).rejects.toBeInstanceOf(LockConflictError);
    releaseOrder();
    await expect(settlement.ship('7')).resolves.toBe('shipped 7');
    expect(backend.isHeld('order-7')).toBe(false);
  });
});

describe('ZookeeperLockTestingModule.forRoot in a test module of its own', () => {
  it('provides LockService, @WithLock, @Locked and the backend, and reports events', async () => {
    const events: LockEvent[] = [];
    const moduleRef = await Test.createTestingModule({
      imports: [ZookeeperLockTestingModule.forRoot({ onLockEvent: (event) => events.push(event) })],
      controllers: [OrdersController],
      providers: [Settlement],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    try {
      expect(() => app.get(ZookeeperService)).toThrow();
      const backend = app.get(InMemoryLockBackend);
      const release = backend.holdElsewhere('9', { scope: 'orders' });
      await request(app.getHttpServer()).post('/orders/9/pay').expect(409);
      release();
      await request(app.getHttpServer()).post('/orders/9/pay').expect(201);
      await expect(app.get(Settlement).ship('1')).resolves.toBe('shipped 1');
      expect(events.map((e) => e.type)).toEqual(['conflict', 'acquired', 'released', 'acquired', 'released']);
    } finally {
      await app.close();
    }
  });
});

describe('ZookeeperLockTestingModule.forRoot with ownerName', () => {
  it('reports the configured owner through inspect and the other instance\'s through holdElsewhere', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ZookeeperLockTestingModule.forRoot({ ownerName: 'unit-test/1' })] }).compile();
    const locks = moduleRef.get(LockService);
    const held = await locks.acquire('a');
    expect(await locks.inspect('a')).toMatchObject({ mode: 'exclusive', holders: [{ owner: 'unit-test/1' }] });
    await held.release();
    const release = moduleRef.get(InMemoryLockBackend).holdElsewhere('b', { owner: 'web-2' });
    expect(await locks.list()).toEqual([expect.objectContaining({ id: 'b', holders: [expect.objectContaining({ owner: 'web-2' })] })]);
    release();
    expect(() => new InMemoryLockBackend(undefined, { ownerName: 'bad\nname' })).toThrow(/option `ownerName` must be printable/);
  });
});

describe('ZookeeperLockTestingModule.forRoot with errorFactory', () => {
  it('answers with what the factory returns, as ZookeeperLockModule does', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ZookeeperLockTestingModule.forRoot({
          errorFactory: (error) => (error instanceof LockConflictError ? new HttpException({ busy: error.ids }, 423) : undefined),
        }),
      ],
      controllers: [OrdersController],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    try {
      const release = app.get(InMemoryLockBackend).holdElsewhere('5', { scope: 'orders' });
      await request(app.getHttpServer()).post('/orders/5/pay').expect(423, { busy: ['5'] });
      release();
      await request(app.getHttpServer()).post('/orders/5/pay').expect(201);
    } finally {
      await app.close();
    }
  });
});

describe('ZookeeperLockTestingModule at application shutdown', () => {
  it("frees a closed application's locks in the store (lost after the grace period), and serves the next application", async () => {
    const backend = new InMemoryLockBackend();
    const start = async () => {
      const moduleRef = await Test.createTestingModule({ imports: [ZookeeperLockTestingModule.forRoot({ shutdownTimeout: 100 })] })
        .overrideProvider(InMemoryLockBackend)
        .useValue(backend)
        .compile();
      const app = moduleRef.createNestApplication();
      await app.init();
      return app;
    };
    const first = await start();
    const kept = await first.get(LockService).acquire('kept'); // never released by its holder
    await first.close();
    expect(kept.signal.reason).toBeInstanceOf(LockLostError);
    expect(backend.isHeld('kept')).toBe(false); // freed, as ZooKeeper frees a closed session's nodes
    const second = await start();
    try {
      await (await second.get(LockService).acquire('kept')).release();
    } finally {
      await second.close();
    }
  });
});
