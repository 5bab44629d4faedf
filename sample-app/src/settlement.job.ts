import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LockConflictError, LockService, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { AccountsStore } from './accounts.store';

/**
 * A periodic job outside any request: only one instance of the app runs each settlement, whichever
 * takes the lock first; the others skip that round. Shows the lock's signal and fencing token being
 * checked before the write.
 */
@Injectable()
export class SettlementJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SettlementJob.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly locks: LockService,
    private readonly store: AccountsStore,
  ) {}

  onApplicationBootstrap(): void {
    const every = Number(process.env.SETTLEMENT_INTERVAL_MS ?? 30_000);
    this.timer = setInterval(() => void this.settle(), every);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async settle(): Promise<'settled' | 'skipped'> {
    try {
      return await this.locks.withLock('settlement', async (lock) => {
        const fees = await this.store.get('fees');
        const token = await lock.fencingToken();
        if (lock.signal.aborted) return 'skipped'; // lost the lock: another instance may run now
        fees.balance += 1;
        await this.store.put(fees, token); // the store refuses a token older than the last writer's
        this.logger.log(`settlement done (fencing token ${token})`);
        return 'settled';
      }, { scope: 'jobs' });
    } catch (error) {
      if (error instanceof LockConflictError) return 'skipped'; // another instance is settling
      if (error instanceof LockUnavailableError) {
        this.logger.warn(`settlement skipped: ${error.message}`);
        return 'skipped';
      }
      throw error;
    }
  }
}
