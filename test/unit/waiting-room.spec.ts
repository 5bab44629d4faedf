/** The waiting room's bookkeeping: pure, no ZooKeeper. */
import { LockQueueFullError } from '../../lib/lock/lock.errors';
import { maxWaitersProblem, waiterLimits, WaitingRoom } from '../../lib/lock/waiting-room';

describe('WaitingRoom', () => {
  it('admits up to perId waiters of one id, then refuses with the ids that are full', () => {
    const room = new WaitingRoom({ perId: 2, perProcess: 10 });
    const leaves = [room.enter(['a'], 's'), room.enter(['a', 'b'], 's')];
    expect(() => room.enter(['b', 'a'], 's')).toThrow(expect.objectContaining({ code: 'LOCK_QUEUE_FULL', ids: ['a'], limit: { perId: 2 } }));
    expect(room.enter(['a'], 'other scope')).toEqual(expect.any(Function)); // another scope, another lock
    leaves[0]();
    leaves[0](); // leaving twice counts once
    room.enter(['a'], 's');
    expect(() => room.enter(['a'], 's')).toThrow(LockQueueFullError);
    expect(room.size).toBe(3);
  });

  it('admits up to perProcess waiters in all', () => {
    const room = new WaitingRoom({ perId: Infinity, perProcess: 2 });
    const first = room.enter(['a'], 's');
    room.enter(['b'], 's');
    expect(() => room.enter(['c'], 's')).toThrow(/maxWaiters.perProcess is 2/);
    first();
    expect(() => room.enter(['c'], 's')).not.toThrow();
  });

  it('checks option values and fills in defaults', () => {
    expect(maxWaitersProblem({ perId: 5, perProcess: Infinity })).toBeUndefined();
    expect(maxWaitersProblem({ perId: 0 })).toMatch(/perId must be a whole number >= 1/);
    expect(maxWaitersProblem({ perProcess: 2.5 })).toMatch(/perProcess must be/);
    expect(maxWaitersProblem({ perID: 3 })).toMatch(/unknown key "perID"/);
    expect(maxWaitersProblem(7)).toMatch(/must be an object/);
    expect(waiterLimits({ perId: 3 })).toEqual({ perId: 3, perProcess: 5000 });
    expect(waiterLimits(undefined)).toEqual({ perId: 100, perProcess: 5000 });
  });
});
