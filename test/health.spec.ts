/**
 * ZookeeperHealthIndicator behind a real @nestjs/terminus health route, with the server up, stopped and
 * frozen; and the session events the onLockEvent hook reports on the way.
 */
import { Controller, Get, INestApplication, Logger, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { LockEvent, LockService, ZookeeperHealthIndicator, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { newLockService } from './support/locks';
import { cleanup, newService, startServer, TestServer, uniqueNamespace, waitForState } from './support/zookeeper';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly zookeeper: ZookeeperHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.zookeeper.isHealthy('zookeeper', { timeout: 500 })]);
  }
}

describe('ZookeeperHealthIndicator with @nestjs/terminus', () => {
  let server: TestServer;
  let app: INestApplication;
  const events: LockEvent[] = [];

  beforeAll(async () => {
    server = await startServer();
    @Module({
      imports: [
        TerminusModule,
        ZookeeperLockModule.forRoot({
          connectionString: server.connectString,
          namespace: uniqueNamespace('health'),
          sessionTimeout: 6_000,
          retryDelay: 100,
          onLockEvent: (event) => events.push(event),
        }),
      ],
      controllers: [HealthController],
    })
    class HealthAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HealthAppModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterAll(async () => {
    server?.resume();
    await app?.close();
    await cleanup();
  });

  it('reports up with the session and a round-trip time while connected', async () => {
    const zk = app.get(ZookeeperService);
    const response = await request(app.getHttpServer()).get('/health').expect(200);
    expect(response.body).toMatchObject({
      status: 'ok',
      info: { zookeeper: { status: 'up', state: 'connected', sessionId: zk.sessionId, roundTripMs: expect.any(Number) } },
    });
    expect(events).toContainEqual({ type: 'session', state: 'connected', sessionId: zk.sessionId });
  });

  it('reports down when the server does not answer within the timeout (frozen server)', async () => {
    server.pause();
    try {
      const response = await request(app.getHttpServer()).get('/health').expect(503);
      expect(response.body.error.zookeeper).toMatchObject({ status: 'down', message: 'ZooKeeper: no answer within 500 ms' });
    } finally {
      server.resume();
    }
    await request(app.getHttpServer()).get('/health').expect(200);
  });

  it('reports down with the session state while the server is stopped, and up again when it is back', async () => {
    const zk = app.get(ZookeeperService);
    const sessionId = zk.sessionId;
    await server.stop();
    await waitForState(zk, 'suspended');
    const down = await request(app.getHttpServer()).get('/health').expect(503);
    expect(down.body).toMatchObject({
      status: 'error',
      error: { zookeeper: { status: 'down', state: 'suspended', message: 'ZooKeeper session is suspended' } },
    });
    expect(events).toContainEqual({ type: 'session', state: 'suspended', sessionId });

    await server.start();
    await waitForState(zk, 'connected');
    const up = await request(app.getHttpServer()).get('/health').expect(200);
    expect(up.body.info.zookeeper.status).toBe('up');
  });
});

describe('onLockEvent', () => {
  afterEach(cleanup);

  it('cannot break locking by throwing: the error is logged and the lock works', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const zk = await newService({
        namespace: uniqueNamespace('events'),
        onLockEvent: () => {
          throw new Error('metrics backend down');
        },
      });
      const locks: LockService = newLockService(zk);
      await expect(locks.withLock('a', () => 'done')).resolves.toBe('done');
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('onLockEvent threw on a released event: metrics backend down'));
    } finally {
      logged.mockRestore();
    }
  });

  it('is validated with the other options', async () => {
    await expect(newService({ onLockEvent: 'log' as never }, { connect: false })).rejects.toThrow(/option `onLockEvent` must be a function/);
  });
});
