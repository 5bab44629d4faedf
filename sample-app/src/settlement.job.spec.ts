/**
 * A unit test of a @Locked job with no ZooKeeper: ZookeeperLockTestingModule runs LockService and @Locked
 * on an in-memory backend with the same semantics, and its InMemoryLockBackend plays the other instances
 * (holdElsewhere) and ZooKeeper's outages (unavailable). Copy this shape for your own jobs and services.
 */
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test, TestingModule } from '@nestjs/testing';
import { LockService } from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, ZookeeperLockTestingModule } from 'nestjs-zookeeper-lock/testing';
import { Account, AccountsStore } from './accounts.store';
import { SettlementJob } from './settlement.job';

/** The store's contract in memory, fencing check included: what the job writes, and with which token. */
class MemoryAccountsStore implements Pick<AccountsStore, 'get' | 'put'> {
  readonly accounts = new Map<string, Account>();
  readonly writes: bigint[] = [];

  async get(id: string): Promise<Account> {
    return { ...(this.accounts.get(id) ?? { id, balance: 0, fencingToken: '0' }) };
  }

  async put(account: Account, fencingToken: bigint): Promise<Account> {
    const current = this.accounts.get(account.id);
    if (current && BigInt(current.fencingToken) > fencingToken) throw new Error('stale lock holder');
    const stored = { ...account, fencingToken: String(fencingToken) };
    this.accounts.set(account.id, stored);
    this.writes.push(fencingToken);
    return stored;
  }
}

describe('SettlementJob (unit, in-memory locks)', () => {
  let moduleRef: TestingModule;
  let job: SettlementJob;
  let backend: InMemoryLockBackend;
  let store: MemoryAccountsStore;

  async function start(settlementEnabled = true): Promise<void> {
    store = new MemoryAccountsStore();
    moduleRef = await Test.createTestingModule({
      // Instead of ZookeeperLockModule.forRoot(...): LockService and @Locked on an in-memory backend.
      imports: [ZookeeperLockTestingModule.forRoot({ ownerName: 'instance-1' })],
      providers: [
        SettlementJob,
        { provide: AccountsStore, useValue: store },
        { provide: ConfigService, useValue: new ConfigService({ sample: { settlementEnabled } }) },
      ],
    }).compile();
    await moduleRef.init(); // @Locked methods are given their LockService at start-up
    job = moduleRef.get(SettlementJob);
    backend = moduleRef.get(InMemoryLockBackend);
  }

  // Closing frees the lock the job keeps for holdAtLeast, and its timer.
  afterEach(() => moduleRef.close());

  it('settles once per tick: the lock stays held after the run, so a second firing skips', async () => {
    await start();
    expect(await job.settle()).toBe('settled');
    expect(await job.settle()).toBe('skipped'); // a late timer in the same tick (holdAtLeast 5 s)
    expect(store.writes).toHaveLength(1);
    expect((await store.get('fees')).balance).toBe(1);
    const lock = await moduleRef.get(LockService).inspect('settlement', { scope: 'jobs' });
    expect(lock).toMatchObject({ mode: 'exclusive', holders: [{ owner: 'instance-1', fencingToken: store.writes[0] }] });
  });

  it('skips while another instance runs the tick, and runs once it is free', async () => {
    await start();
    const release = backend.holdElsewhere('settlement', { scope: 'jobs', owner: 'instance-2' });
    expect(await job.settle()).toBe('skipped');
    expect(store.writes).toHaveLength(0);
    release();
    expect(await job.settle()).toBe('settled');
    expect(store.writes).toHaveLength(1);
  });

  it('skips with a warning, writing nothing, while ZooKeeper is unavailable', async () => {
    await start();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      backend.unavailable = true;
      expect(await job.settle()).toBe('skipped');
      expect(store.writes).toHaveLength(0);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('settlement skipped'));
    } finally {
      warn.mockRestore();
    }
  });

  it('takes no lock and writes nothing on a tick when SETTLEMENT_ENABLED is off', async () => {
    await start(false);
    await job.onSchedule();
    expect(store.writes).toHaveLength(0);
    expect(backend.isHeld('settlement', { scope: 'jobs' })).toBe(false);
  });

  it('settles on a tick when SETTLEMENT_ENABLED is on', async () => {
    await start(true);
    await job.onSchedule();
    expect(store.writes).toHaveLength(1);
    expect(backend.isHeld('settlement', { scope: 'jobs' })).toBe(true); // kept for holdAtLeast
  });
});
