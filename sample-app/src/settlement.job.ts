import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Cron } from '@nestjs/schedule';
import { currentLock, Locked, LockUnavailableError } from 'nestjs-zookeeper-lock';
import { AccountsStore } from './accounts.store';
import { SampleConfig } from './sample.config';

/**
 * Every instance of the app schedules the settlement (`@Cron`, every 30 s); `@Locked` with
 * `onConflict: 'skip'` lets one of them run each tick. `holdAtLeast` keeps the lock for 5 s after a run
 * began, so an instance whose clock is a little behind, or whose timer fires late, finds it still held
 * and skips that tick instead of running it again: it must exceed the skew between the instances' firings
 * (well under a second on NTP-synced hosts) and stay below the period minus that skew (30 s), or the next
 * tick could be skipped by all.
 *
 * Why not `LockService.leader`: this is a run on a schedule, not a loop that runs all the time. With
 * `@Locked` each tick goes to whichever instance is alive and fires first, and nothing is held between
 * ticks; a leadership would tie every tick to one instance, and a dead leader would stall the job until
 * its session expired.
 */
@Injectable()
export class SettlementJob {
  private readonly logger = new Logger(SettlementJob.name);

  constructor(
    private readonly store: AccountsStore,
    private readonly config: ConfigService<{ sample: SampleConfig }, true>,
  ) {}

  @Cron('*/30 * * * * *', { name: 'settlement' })
  async onSchedule(): Promise<void> {
    if (this.config.get('sample.settlementEnabled', { infer: true })) await this.settle();
  }

  /** One settlement round: 'settled', or 'skipped' when another instance runs this tick or ZooKeeper is down. */
  async settle(): Promise<'settled' | 'skipped'> {
    try {
      return (await this.settleHoldingLock()) ?? 'skipped'; // undefined: another instance has this tick
    } catch (error) {
      // @Locked throws when it cannot know whether it may run; a scheduled job then skips with a warning.
      if (error instanceof LockUnavailableError) {
        this.logger.warn(`settlement skipped: ${error.message}`);
        return 'skipped';
      }
      throw error;
    }
  }

  @Locked('settlement', { scope: 'jobs', onConflict: 'skip', holdAtLeast: 5_000 })
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
