/**
 * A real Nest HTTP application (Express or Fastify) whose routes use @WithLock, for e2e tests.
 * Handlers can be held inside their critical section by "gates" the test opens.
 */
import { Body, Controller, ForbiddenException, INestApplication, MessageEvent, Module, Param, Post, Sse } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Observable, finalize, interval, map, take } from 'rxjs';
import { CurrentLock, LockHandle, LockService, SkipLock, WithLock, ZookeeperLockModule, ZookeeperLockModuleOptions } from 'nestjs-zookeeper-lock';

export type AdapterName = 'express' | 'fastify';

/** Lets a test hold handlers inside their lock until it opens the gate. */
export class Gates {
  private readonly gates = new Map<string, { open: () => void; opened: Promise<void>; entered: Promise<void>; enter: () => void }>();

  private get(key: string) {
    let gate = this.gates.get(key);
    if (!gate) {
      let open!: () => void;
      let enter!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      const entered = new Promise<void>((r) => (enter = r));
      gate = { open, opened, entered, enter };
      this.gates.set(key, gate);
    }
    return gate;
  }

  /** Called by a handler: waits until the test opens the gate (no gate set up: passes at once). */
  async pass(key: string): Promise<void> {
    const gate = this.gates.get(key);
    if (!gate) return;
    gate.enter();
    await gate.opened;
  }

  /** Opens every gate (so a failed test cannot leave a handler hanging and the app unable to close). */
  openAll(): void {
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
  }

  /** Sets up a closed gate; resolves `entered` once a handler waits at it. */
  close(key: string): { entered: Promise<void>; open: () => void } {
    const gate = this.get(key);
    return { entered: gate.entered, open: () => { gate.open(); this.gates.delete(key); } };
  }
}

export const calls = { withdraw: 0, byBody: 0, streamClosed: 0 };

export function buildController(gates: Gates) {
  @Controller('accounts')
  class AccountsController {
    constructor(readonly locks: LockService) {}

    @Post(':id/withdraw')
    @WithLock('params.id', { scope: 'accounts' })
    async withdraw(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      calls.withdraw += 1;
      await gates.pass(`withdraw:${id}`);
      return { id, fencingToken: String(await lock.fencingToken()), lost: lock.signal.aborted };
    }

    @Post(':id/withdraw-waiting')
    @WithLock('params.id', { scope: 'accounts', wait: 5_000 })
    async withdrawWaiting(@Param('id') id: string) {
      await gates.pass(`waiting:${id}`);
      return { id };
    }

    @Post('transfer')
    @WithLock((req: { body: { from: string; to: string } }) => [req.body.from, req.body.to], { scope: 'accounts', wait: 2_000 })
    async transfer(@Body() body: { from: string; to: string }) {
      await gates.pass(`transfer:${body.from}:${body.to}`);
      return { moved: true };
    }

    @Post(':id/fail')
    @WithLock('params.id', { scope: 'accounts' })
    fail() {
      throw new ForbiddenException('not allowed');
    }

    @Post('by-body')
    @WithLock('body.orderId')
    byBody(@Body('orderId') orderId: string) {
      calls.byBody += 1;
      return { orderId };
    }

    @Post('by-body-list')
    @WithLock((req: { body: { orderIds: string[] } }) => req.body.orderIds)
    byBodyList(@CurrentLock() lock: LockHandle) {
      return { lockedIds: lock.ids };
    }

    @Post(':id/nested')
    @WithLock('params.id', { scope: 'accounts' })
    nested(@Param('id') id: string) {
      return this.locks.withLock(id, () => ({ joined: true }), { scope: 'accounts' });
    }

    @Sse(':id/stream')
    @WithLock('params.id', { scope: 'accounts' })
    stream(): Observable<MessageEvent> {
      return interval(50).pipe(
        take(6),
        map((i) => ({ data: { step: i } })),
        finalize(() => (calls.streamClosed += 1)),
      );
    }
  }
  /** Class-level @WithLock: every handler locked on params.id, unless a method says otherwise. */
  @Controller('orders')
  @WithLock('params.id', { scope: 'orders' })
  class OrdersController {
    @Post(':id/pay')
    async pay(@Param('id') id: string) {
      await gates.pass(`pay:${id}`);
      return { paid: id };
    }

    /** Opted out of the class's lock: runs while another request holds the id. */
    @Post(':id/peek')
    @SkipLock()
    peek(@Param('id') id: string, @CurrentLock() lock: LockHandle | undefined) {
      return { peeked: id, locked: lock !== undefined };
    }

    @Post(':id/note')
    @WithLock('query.key', { scope: 'notes' })
    async note(@Param('id') id: string, @CurrentLock() lock: LockHandle) {
      await gates.pass(`note:${id}`);
      return { noted: id, lockedIds: lock.ids, scope: lock.scope };
    }
  }
  return [AccountsController, OrdersController];
}

export async function createLockedApp(
  adapter: AdapterName,
  options: ZookeeperLockModuleOptions,
  gates = new Gates(),
): Promise<{ app: INestApplication; gates: Gates; url: string }> {
  @Module({
    imports: [ZookeeperLockModule.forRoot(options)],
    controllers: buildController(gates),
  })
  class AppModule {}

  const app =
    adapter === 'fastify'
      ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, gates, url: await app.getUrl() };
}
