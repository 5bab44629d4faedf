import { BadRequestException, Body, Controller, Get, MessageEvent, Param, Post, Sse, UseGuards } from '@nestjs/common';
import { CurrentLock, LockHandle, WithLock } from 'nestjs-zookeeper-lock';
import { Observable } from 'rxjs';
import { AccountAccessGuard } from './account-access.guard';
import { AccountsStore } from './accounts.store';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function amountOf(body: unknown): number {
  const amount = (body as { amount?: unknown } | undefined)?.amount;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
    throw new BadRequestException('amount must be a positive whole number');
  }
  return amount;
}

@Controller('accounts')
@UseGuards(AccountAccessGuard) // authorise the ids before anything locks them
export class AccountsController {
  constructor(private readonly store: AccountsStore) {}

  @Get(':id')
  get(@Param('id') id: string) {
    return this.store.get(id);
  }

  /** Read, think, write: safe only because nobody else can hold the account's lock meanwhile. */
  @Post(':id/deposit')
  @WithLock('params.id', { scope: 'accounts' })
  async deposit(@Param('id') id: string, @Body() body: unknown, @CurrentLock() lock: LockHandle) {
    const amount = amountOf(body);
    const account = await this.store.get(id);
    await pause(50); // a real service would call something slow here
    account.balance += amount;
    return this.store.put(account, await lock.fencingToken());
  }

  @Post(':id/withdraw')
  @WithLock('params.id', { scope: 'accounts' })
  async withdraw(@Param('id') id: string, @Body() body: unknown, @CurrentLock() lock: LockHandle) {
    return this.debit(id, amountOf(body), lock, 50);
  }

  /** Holds the lock for 2 s: try a second request meanwhile to see the 409. */
  @Post(':id/slow-withdraw')
  @WithLock('params.id', { scope: 'accounts' })
  async slowWithdraw(@Param('id') id: string, @Body() body: unknown, @CurrentLock() lock: LockHandle) {
    return this.debit(id, amountOf(body), lock, 2_000);
  }

  /** Both accounts locked at once (all or none); waits up to 2 s for them instead of failing at once. */
  @Post('transfer')
  @WithLock((req: { body?: { from?: unknown; to?: unknown } }) => [req.body?.from, req.body?.to] as string[], {
    scope: 'accounts',
    wait: 2_000,
  })
  async transfer(@Body() body: { from: string; to: string; amount: number }, @CurrentLock() lock: LockHandle) {
    const amount = amountOf(body);
    if (body.from === body.to) throw new BadRequestException('from and to must differ');
    const [from, to] = await Promise.all([this.store.get(body.from), this.store.get(body.to)]);
    if (from.balance < amount) throw new BadRequestException(`insufficient funds in ${from.id}`);
    await pause(50);
    const token = await lock.fencingToken();
    from.balance -= amount;
    to.balance += amount;
    return { from: await this.store.put(from, token), to: await this.store.put(to, token) };
  }

  /**
   * Server-sent events: the account stays locked while the statement streams (and is freed if you leave).
   * A shared lock (`FOR SHARE`): statements of one account stream side by side, while deposits,
   * withdrawals and transfers (exclusive) wait for them or get 409, so a statement never shows half a
   * transfer. A stream a client holds open must not keep the account locked: maxHold ends it after 3 s.
   */
  @Sse(':id/statement')
  @WithLock('params.id', { scope: 'accounts', shared: true, maxHold: 3_000 })
  statement(@Param('id') id: string): Observable<MessageEvent> {
    return new Observable((subscriber) => {
      let step = 0;
      const timer = setInterval(async () => {
        step += 1;
        if (step <= 5) subscriber.next({ data: { id, step, of: 5 } });
        else {
          subscriber.next({ data: { id, done: true, account: await this.store.get(id) } });
          subscriber.complete();
        }
      }, 300);
      return () => clearInterval(timer);
    });
  }

  /**
   * An export is slow and heavy: at most 2 at once per account, across every instance (a concurrency
   * limit); the 3rd gets 409. A lock of its own (scope `exports`), so exports do not block payments.
   */
  @Get(':id/export')
  @WithLock('params.id', { scope: 'exports', limit: 2 })
  async export(@Param('id') id: string) {
    const account = await this.store.get(id);
    await pause(500); // rendering the document
    return { account, exportedAt: new Date().toISOString() };
  }

  private async debit(id: string, amount: number, lock: LockHandle, thinkMs: number) {
    const account = await this.store.get(id);
    if (account.balance < amount) throw new BadRequestException(`insufficient funds in ${id}`);
    await pause(thinkMs);
    if (lock.signal.aborted) throw lock.signal.reason; // lost while thinking: do not write
    account.balance -= amount;
    return this.store.put(account, await lock.fencingToken());
  }
}
