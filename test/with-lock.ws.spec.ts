/** @WithLock on a real WebSocket gateway (platform-ws): the lock id comes from the message data. */
import { ArgumentsHost, Catch, INestApplication, Module, UseFilters } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { WsAdapter } from '@nestjs/platform-ws';
import { BaseWsExceptionFilter, MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { CurrentLock, LockConflictError, LockHandle, WithLock, ZookeeperLockModule, ZookeeperService } from 'nestjs-zookeeper-lock';
import { Gates } from './support/locked-app';
import { cleanup, sharedConnectString, uniqueNamespace, waitForChildren, waitForGone, waitForNoChildren } from './support/zookeeper';

/** One WebSocket connection that sends `{ event, data }` frames and hands back the frames it receives. */
class Socket {
  private readonly frames: Array<{ event: string; data: unknown }> = [];
  private readonly waiting: Array<(frame: { event: string; data: unknown }) => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      const next = this.waiting.shift();
      if (next) next(frame);
      else this.frames.push(frame);
    });
  }

  static open(url: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new Socket(ws)));
      ws.once('error', reject);
    });
  }

  send(event: string, data: unknown): void {
    this.ws.send(JSON.stringify({ event, data }));
  }

  next(): Promise<{ event: string; data: unknown }> {
    const frame = this.frames.shift();
    return frame ? Promise.resolve(frame) : new Promise((resolve) => this.waiting.push(resolve));
  }
}

/**
 * Nest's default WebSocket exception filter answers with `client.emit('exception', ...)`, which sends
 * nothing on a raw `ws` socket (platform-ws): such gateways need a filter that sends the error, as here.
 * (On socket.io the default filter already does.)
 */
const caught: WsException[] = [];

@Catch(WsException)
class SendWsErrors extends BaseWsExceptionFilter {
  override catch(exception: WsException, host: ArgumentsHost): void {
    caught.push(exception); // to look at the `cause` the client never sees
    const client = host.switchToWs().getClient<WebSocket>();
    client.send(JSON.stringify({ event: 'exception', data: exception.getError() }));
  }
}

describe('@WithLock on a WebSocket gateway', () => {
  const gates = new Gates();
  let app: INestApplication;
  let url: string;
  const sockets: Socket[] = [];
  let runs = 0;
  let queuedRuns = 0;

  @WebSocketGateway()
  @UseFilters(SendWsErrors)
  class OrdersGateway {
    @SubscribeMessage('ship')
    @WithLock('orderId', { scope: 'ws-orders' })
    async ship(@MessageBody() data: { orderId: string }, @CurrentLock() lock: LockHandle) {
      runs += 1;
      await gates.pass(`ship:${data.orderId}`);
      return { event: 'shipped', data: { orderId: data.orderId, locked: lock.ids } };
    }

    @SubscribeMessage('ship-queued')
    @WithLock('orderId', { scope: 'ws-orders', wait: 30_000 })
    shipQueued(@MessageBody() data: { orderId: string }) {
      queuedRuns += 1;
      return { event: 'shipped', data: { orderId: data.orderId } };
    }
  }

  const namespace = uniqueNamespace('ws');

  beforeAll(async () => {
    @Module({
      imports: [ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace })],
      providers: [OrdersGateway],
    })
    class GatewayModule {}
    const moduleRef = await Test.createTestingModule({ imports: [GatewayModule] }).compile();
    app = moduleRef.createNestApplication();
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    gates.openAll();
    for (const socket of sockets) socket.ws.close();
    await app?.close();
    await cleanup();
  });

  async function open(): Promise<Socket> {
    const socket = await Socket.open(url);
    sockets.push(socket);
    return socket;
  }

  it('runs the handler under the lock and answers a conflict with a 409 WsException', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const gate = gates.close('ship:o-1');
    a.send('ship', { orderId: 'o-1' });
    await gate.entered;
    b.send('ship', { orderId: 'o-1' });
    const conflict = await b.next();
    expect(conflict.event).toBe('exception');
    // A generic answer: neither the id nor the ZooKeeper path reach the client; the cause says which lock.
    expect(conflict.data).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'LOCK_CONFLICT',
      message: 'The resource is locked by another request; try again later',
    });
    const cause = (caught.at(-1) as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(LockConflictError);
    expect(cause).toMatchObject({ ids: ['o-1'], scope: 'ws-orders' });
    gate.open();
    expect(await a.next()).toEqual({ event: 'shipped', data: { orderId: 'o-1', locked: ['o-1'] } });
    // A gateway sends each value the handler emits at once; the release follows the handler's completion
    // (unlike an HTTP response, which Nest sends after it). Once released, the lock is free again.
    await waitForGone(app.get(ZookeeperService), `${namespace}/ws-orders/o-1`);
    b.send('ship', { orderId: 'o-1' });
    expect(await b.next()).toEqual({ event: 'shipped', data: { orderId: 'o-1', locked: ['o-1'] } });
  });

  it('answers a message without a usable id with a 400 WsException, without running the handler', async () => {
    const socket = await open();
    const before = runs;
    socket.send('ship', { orderId: ['a', {}] });
    const error = await socket.next();
    expect(error.event).toBe('exception');
    expect(error.data).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'LOCK_ID_INVALID' });
    expect(runs).toBe(before);
  });

  it('cancels the wait when the client disconnects while queued: its node leaves the queue, the handler never runs', async () => {
    const zk = app.get(ZookeeperService);
    const [holder, waiter] = await Promise.all([open(), open()]);
    const gate = gates.close('ship:o-2');
    holder.send('ship', { orderId: 'o-2' });
    await gate.entered;
    waiter.send('ship-queued', { orderId: 'o-2' });
    await waitForChildren(zk, `${namespace}/ws-orders/o-2%q`, 1); // queued behind the holder
    waiter.ws.terminate(); // the client goes away while its message waits for the lock
    await waitForNoChildren(zk, `${namespace}/ws-orders/o-2%q`);
    gate.open();
    expect(await holder.next()).toEqual({ event: 'shipped', data: { orderId: 'o-2', locked: ['o-2'] } });
    await waitForGone(zk, `${namespace}/ws-orders/o-2`);
    expect(queuedRuns).toBe(0);
  });
});
