import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { CurrentLock, LockHandle, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { Gates } from './support/locked-app';
import { cleanup, harness, sharedConnectString, uniqueNamespace, waitForChildren, waitForGone, waitForNoChildren } from './support/zookeeper';

/** @WithLock on a TCP microservice handler: the lock id comes from the message data. */
describe('@WithLock in a microservice (TCP transport)', () => {
  const gates = new Gates();
  let service: INestMicroservice;
  let client: ClientProxy;
  const namespace = uniqueNamespace('rpc');
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

  beforeAll(async () => {
    @Module({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace })],
      controllers: [OrdersHandler],
    })
    class OrdersModule {}
    [port] = await harness.freePorts(1);
    service = await NestFactory.createMicroservice(OrdersModule, {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
      logger: false,
    });
    await service.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
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
    expect(conflict).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'LOCK_CONFLICT' });
    expect(conflict.message).toContain('"o-1"');
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
