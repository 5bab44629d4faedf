/**
 * "One instance of the fleet runs it": @Locked with `onConflict: 'skip'` and `holdAtLeast` under the real
 * @nestjs/schedule, on several Nest applications in this process, each with its own ZooKeeper session on
 * the real test server, whose schedules fire at different moments (skewed start times for @Interval,
 * skewed clocks for @Cron). Both decorator orders. Exactly one run per tick across the fleet; the control
 * jobs (same schedule, no holdAtLeast) run more often, which proves the count can fail.
 *
 * Counting is by tick, not by wall time: every attempt of an instance is one `acquired` or `conflict`
 * event of its `onLockEvent`, its k-th attempt being its tick of round k; the runs counted are the grants
 * among each instance's first N attempts. Margins are hundreds of ms on either side, for a loaded machine.
 */
import { Injectable } from '@nestjs/common';
import { Cron, Interval, ScheduleModule } from '@nestjs/schedule';
import { Test, TestingModule } from '@nestjs/testing';
import { LockEvent, Locked, ZookeeperLockModule } from 'nestjs-zookeeper-lock';
import { sharedConnectString, uniqueNamespace } from './support/zookeeper';

const JOB_MS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Jobs run, by id, across every instance (the method bodies count here). */
type BodyRuns = Map<string, number>;

async function work(runs: BodyRuns, id: string): Promise<undefined> {
  runs.set(id, (runs.get(id) ?? 0) + 1);
  await sleep(JOB_MS);
  return undefined;
}

/**
 * Attempts and grants of every instance, by job id. An instance's k-th attempt belongs to round k (the
 * start skew is well below the period), so the count is taken once every instance has made N attempts,
 * counting only grants among each instance's first N: robust to which instance fires first in a round.
 */
class FleetRecorder {
  readonly attempts = new Map<string, number[]>();
  readonly granted = new Map<string, number>();
  readonly unavailable: LockEvent[] = [];
  readonly counts = new Map<string, { attempts: number[]; runs: number }>();
  private readonly grantedInRounds = new Map<string, number>();
  private resolveCounted!: () => void;
  readonly counted = new Promise<void>((resolve) => (this.resolveCounted = resolve));

  constructor(
    private readonly instances: number,
    private readonly ticks: number,
    private readonly jobIds: string[],
  ) {}

  listener(instance: number): (event: LockEvent) => void {
    return (event) => {
      if (event.type === 'unavailable') this.unavailable.push(event);
      if (event.type !== 'acquired' && event.type !== 'conflict') return;
      const id = event.ids[0];
      const attempts = this.attempts.get(id) ?? new Array<number>(this.instances).fill(0);
      this.attempts.set(id, attempts);
      attempts[instance] += 1;
      if (event.type === 'acquired') {
        this.granted.set(id, (this.granted.get(id) ?? 0) + 1);
        if (attempts[instance] <= this.ticks) this.grantedInRounds.set(id, (this.grantedInRounds.get(id) ?? 0) + 1);
      }
      if (attempts.every((n) => n >= this.ticks) && !this.counts.has(id)) {
        this.counts.set(id, { attempts: attempts.map((n) => Math.min(n, this.ticks)), runs: this.grantedInRounds.get(id) ?? 0 });
        if (this.jobIds.every((each) => this.counts.has(each))) this.resolveCounted();
      }
    };
  }
}

async function startInstance(namespace: string, jobs: new () => object, onLockEvent: (e: LockEvent) => void): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      ZookeeperLockModule.forRoot({ connectionString: sharedConnectString(), namespace, sessionTimeout: 10_000, onLockEvent }),
    ],
    providers: [jobs],
  }).compile();
  await moduleRef.init(); // the scheduler starts its intervals and cron jobs at the end of init
  return moduleRef;
}

describe('@Locked under @nestjs/schedule: one run per tick across the fleet', () => {
  let instances: TestingModule[] = [];
  afterEach(async () => {
    await Promise.all(instances.map((moduleRef) => moduleRef.close()));
    instances = [];
  });

  it('@Interval, both decorator orders, three instances started ~100 ms apart', async () => {
    const PERIOD = 1_500;
    const HOLD = 1_000; // above the start skew (a few hundred ms, more on a loaded machine), 500 ms below the period
    const TICKS = 4;
    const bodyRuns: BodyRuns = new Map();

    @Injectable()
    class IntervalJobs {
      @Interval(PERIOD)
      @Locked('interval-above', { onConflict: 'skip', holdAtLeast: HOLD })
      async above(): Promise<undefined> {
        return work(bodyRuns, 'interval-above');
      }

      @Locked('interval-below', { onConflict: 'skip', holdAtLeast: HOLD })
      @Interval(PERIOD)
      async below(): Promise<undefined> {
        return work(bodyRuns, 'interval-below');
      }

      @Interval(PERIOD)
      @Locked('interval-control', { onConflict: 'skip' }) // no holdAtLeast: free again after 20 ms
      async control(): Promise<undefined> {
        return work(bodyRuns, 'interval-control');
      }
    }

    const ids = ['interval-above', 'interval-below', 'interval-control'];
    const fleet = new FleetRecorder(3, TICKS, ids);
    const namespace = uniqueNamespace('schedule');
    for (let i = 0; i < 3; i++) {
      if (i > 0) await sleep(100); // the skew between instances is the point of the test
      instances.push(await startInstance(namespace, IntervalJobs, fleet.listener(i)));
    }
    await fleet.counted;

    for (const id of ['interval-above', 'interval-below']) {
      expect({ id, ...fleet.counts.get(id) }).toEqual({ id, attempts: [TICKS, TICKS, TICKS], runs: TICKS });
    }
    const control = fleet.counts.get('interval-control')!;
    expect(control.attempts).toEqual([TICKS, TICKS, TICKS]);
    expect(control.runs).toBeGreaterThan(TICKS); // the count above can fail
    expect(fleet.unavailable).toEqual([]);
    await Promise.all(instances.splice(0).map((moduleRef) => moduleRef.close()));
    for (const id of ids) expect(bodyRuns.get(id)).toBe(fleet.granted.get(id)); // every grant ran the body, nothing else did
  });

  it('@Cron, both decorator orders, two instances whose clocks are 1 s apart', async () => {
    // Every 2 s on each host; the second host's clock is 1 s off, so its "even seconds" are our odd ones.
    const HOLD = 1_500; // above the 1 s skew, below the 2 s period
    const TICKS = 3;
    const bodyRuns: BodyRuns = new Map();

    const jobsOnClock = (every2s: string) => {
      @Injectable()
      class CronJobs {
        @Cron(every2s)
        @Locked('cron-above', { onConflict: 'skip', holdAtLeast: HOLD })
        async above(): Promise<undefined> {
          return work(bodyRuns, 'cron-above');
        }

        @Locked('cron-below', { onConflict: 'skip', holdAtLeast: HOLD })
        @Cron(every2s)
        async below(): Promise<undefined> {
          return work(bodyRuns, 'cron-below');
        }

        @Cron(every2s)
        @Locked('cron-control', { onConflict: 'skip' })
        async control(): Promise<undefined> {
          return work(bodyRuns, 'cron-control');
        }
      }
      return CronJobs;
    };

    const ids = ['cron-above', 'cron-below', 'cron-control'];
    const namespace = uniqueNamespace('schedule');
    const clocks = ['*/2 * * * * *', '1-59/2 * * * * *'];
    const fleet = new FleetRecorder(2, TICKS, ids);
    for (let i = 0; i < 2; i++) instances.push(await startInstance(namespace, jobsOnClock(clocks[i]), fleet.listener(i)));
    await fleet.counted;

    for (const id of ['cron-above', 'cron-below']) {
      expect({ id, ...fleet.counts.get(id) }).toEqual({ id, attempts: [TICKS, TICKS], runs: TICKS });
    }
    const control = fleet.counts.get('cron-control')!;
    expect(control.attempts).toEqual([TICKS, TICKS]);
    expect(control.runs).toBeGreaterThan(TICKS);
    expect(fleet.unavailable).toEqual([]);
    await Promise.all(instances.splice(0).map((moduleRef) => moduleRef.close()));
    for (const id of ids) expect(bodyRuns.get(id)).toBe(fleet.granted.get(id));
  });
});
