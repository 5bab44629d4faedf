import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { currentLock, Locked, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { AccountsStore } from './accounts.store';

/**
 * A periodic job outside any request, locked with @Locked: only one instance of the app runs each
 * settlement, whichever takes the lock first; the others skip that round. Shows the lock's signal and fencing token being
 * checked before the write.
 */
@Injectable()
export class SettlementJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SettlementJob.name);
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: AccountsStore) {}

  onApplicationBootstrap(): void {
    const every = Number(process.env.SETTLEMENT_INTERVAL_MS ?? 30_000);
    this.timer = setInterval(() => void this.settle(), every);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One settlement round: 'settled', or 'skipped' when another instance runs it or ZooKeeper is down. */
  async settle(): Promise<'settled' | 'skipped'> {
    try {
      return (await this.settleHoldingLock()) ?? 'skipped'; // undefined: another instance is settling
    } catch (error) {
      if (error instanceof LockUnavailableError) {
        this.logger.warn(`settlement skipped: ${error.message}`);
        return 'skipped';
      }
      throw error;
    }
  }

  @Locked('settlement', { scope: 'jobs', onConflict: 'skip' })
  protected async settleHoldingLock(): Promise<'settled' | 'skipped' | undefined> {
    const lock = currentLock()!;
    const fees = await this.store.get('fees');
    const token = await lock.fencingToken();
    if (lock.signal.aborted) return 'skipped'; // lost the lock: another instance may run now
    fees.balance += 1;
    await this.store.put(fees, token); // the store refuses a token older than the last writer's
    this.logger.log(`settlement done (fencing token ${token})`);
    return 'settled';
  }
}
