import { ArgumentsHost, Catch, Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BaseRpcExceptionFilter, ClientProxy, ClientProxyFactory, MessagePattern, Payload, RpcException, Transport } from '@nestjs/microservices';
import { firstValueFrom, Observable } from 'rxjs';
import {
  CurrentLock,
  InvalidLockIdError,
  LockConflictError,
  LockError,
  LockHandle,
  WithLock,
  ZookeeperLockModule,
  ZookeeperLockModuleOptions,
  ZookeeperService,
} from 'nestjs-zookeeper-lock';
import { Gates } from './support/locked-app';
import { cleanup, harness, sharedConnectString, uniqueNamespace, waitForChildren, waitForGone, waitForNoChildren } from './support/zookeeper';

/** Records what the handlers threw (to look at the `cause` the client never sees), then answers as Nest does. */
@Catch()
class RecordRpcErrors extends BaseRpcExceptionFilter {
  constructor(readonly caught: unknown[]) {
    super();
  }
  override catch(exception: unknown, host: ArgumentsHost): Observable<unknown> {
    this.caught.push(exception);
    return super.catch(exception, host);
  }
}

/** @WithLock on a TCP microservice handler: the lock id comes from the message data. */
describe('@WithLock in a microservice (TCP transport)', () => {
  const gates = new Gates();
  let service: INestMicroservice;
  let client: ClientProxy;
  const namespace = uniqueNamespace('rpc');
  const caught: unknown[] = [];
  let port: number;
  let queuedRuns = 0;

  @Controller()
  class OrdersHandler {
    @MessagePattern('ship')
    @WithLock('orderId')
    async ship(@Payload() data: { orderId: string }, @CurrentLock() lock: LockHandle) {
      await gates.pass(`ship:${data.orderId}`);
      return { shipped: data.orderId, locked: lock.ids };
    }

    @MessagePattern('ship-queued')
    @WithLock('orderId', { wait: 30_000 })
    shipQueued(@Payload() data: { orderId: string }) {
      queuedRuns += 1;
      return { shipped: data.orderId };
    }
  }

  async function start(options: Partial<ZookeeperLockModuleOptions>, seen: unknown[]): Promise<{ service: INestMicroservice; client: ClientProxy; port: number }> {
    @Module({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, ...options })],
      controllers: [OrdersHandler],
    })
    class OrdersModule {}
    const [port] = await harness.freePorts(1);
    const service = await NestFactory.createMicroservice(OrdersModule, {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
      logger: false,
    });
    service.useGlobalFilters(new RecordRpcErrors(seen));
    await service.listen();
    const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
    return { service, client, port };
  }

  beforeAll(async () => {
    ({ service, client, port } = await start({}, caught));
  });

  afterAll(async () => {
    gates.openAll();
    client?.close();
    await service?.close();
    await cleanup();
  });

  it('runs the handler under the lock and answers a conflict with an RpcException', async () => {
    const gate = gates.close('ship:o-1');
    const first = firstValueFrom(client.send('ship', { orderId: 'o-1' }));
    await gate.entered;
    const conflict = await firstValueFrom(client.send('ship', { orderId: 'o-1' })).catch((e) => e);
    // A generic answer: neither the id nor the ZooKeeper path reach the client...
    expect(conflict).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'LOCK_CONFLICT',
      message: 'The resource is locked by another request; try again later',
    });
    // ...while the RpcException's cause says which lock it was.
    const thrown = caught.at(-1) as RpcException & { cause?: unknown };
    expect(thrown).toBeInstanceOf(RpcException);
    expect(thrown.cause).toBeInstanceOf(LockConflictError);
    expect((thrown.cause as LockConflictError).ids).toEqual(['o-1']);
    gate.open();
    expect(await first).toEqual({ shipped: 'o-1', locked: ['o-1'] });
    // An RPC reply is sent as the handler emits it; the release follows the handler's completion (unlike
    // an HTTP response, sent after it). Once released, the lock is free again.
    await waitForGone(service.get(ZookeeperService), `${namespace}/default/o-1`);
    expect(await firstValueFrom(client.send('ship', { orderId: 'o-1' }))).toEqual({ shipped: 'o-1', locked: ['o-1'] });
  });

  it('answers a message without a usable id with a 400-style RpcException', async () => {
    const error = await firstValueFrom(client.send('ship', { orderId: 7 })).catch((e) => e);
    expect(error).toMatchObject({ statusCode: 400, code: 'LOCK_ID_INVALID' });
  });

  it('answers with what the errorFactory option returns, and names the ids with exposeLockIds', async () => {
    const seen: unknown[] = [];
    const calls: Array<{ code: string; type: string; handler: string }> = [];
    const custom = await start(
      {
        exposeLockIds: true,
        errorFactory: (error: LockError, context) => {
          calls.push({ code: error.code, type: context.getType(), handler: context.getHandler().name });
          // Custom for conflicts on "custom-" orders only: undefined keeps the default answer.
          const custom = context.switchToRpc().getData<{ orderId: string }>().orderId.startsWith('custom-');
          return error instanceof LockConflictError && custom ? new RpcException({ busy: error.ids, retry: true }) : undefined;
        },
      },
      seen,
    );
    try {
      const gate = gates.close('ship:custom-9');
      const first = firstValueFrom(custom.client.send('ship', { orderId: 'custom-9' }));
      await gate.entered;
      expect(await firstValueFrom(custom.client.send('ship', { orderId: 'custom-9' })).catch((e) => e)).toEqual({ busy: ['custom-9'], retry: true });
      gate.open();
      await first;
      // The default answer, with the ids since the app opted in.
      const plainGate = gates.close('ship:plain-9');
      const plain = firstValueFrom(custom.client.send('ship', { orderId: 'plain-9' }));
      await plainGate.entered;
      expect(await firstValueFrom(custom.client.send('ship', { orderId: 'plain-9' })).catch((e) => e)).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'LOCK_CONFLICT',
        message: 'The resource is locked by another request; try again later',
        ids: ['plain-9'],
      });
      plainGate.open();
      await plain;
      // Not a conflict: the factory returns undefined, so the default answer (400) is sent.
      const invalid = await firstValueFrom(custom.client.send('ship', { orderId: '' })).catch((e) => e);
      expect(invalid).toEqual({ statusCode: 400, error: 'Bad Request', code: 'LOCK_ID_INVALID', message: 'Lock id must not be empty' });
      expect((seen.at(-1) as { cause?: unknown }).cause).toBeInstanceOf(InvalidLockIdError);
      expect(calls).toEqual([
        { code: 'LOCK_CONFLICT', type: 'rpc', handler: 'ship' },
        { code: 'LOCK_CONFLICT', type: 'rpc', handler: 'ship' },
        { code: 'LOCK_ID_INVALID', type: 'rpc', handler: 'ship' },
      ]);
    } finally {
      custom.client.close();
      await custom.service.close();
    }
  });

  it('cancels the wait when the requesting connection closes while queued: its node leaves the queue, the handler never runs', async () => {
    const zk = service.get(ZookeeperService);
    const gate = gates.close('ship:o-2');
    const first = firstValueFrom(client.send('ship', { orderId: 'o-2' }));
    await gate.entered;
    const leaving = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await leaving.connect();
    leaving.send('ship-queued', { orderId: 'o-2' }).subscribe({ error: () => undefined });
    await waitForChildren(zk, `${namespace}/default/o-2%q`, 1); // queued behind the holder
    leaving.close(); // the requester goes away while its message waits for the lock
    await waitForNoChildren(zk, `${namespace}/default/o-2%q`);
    gate.open();
    expect(await first).toEqual({ shipped: 'o-2', locked: ['o-2'] });
    await waitForGone(zk, `${namespace}/default/o-2`);
    expect(queuedRuns).toBe(0);
  });
});
