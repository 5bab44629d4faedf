import { watchdogPlan, watchdogVerdict } from '../../lib/zookeeper/session-watchdog';

describe('watchdogPlan (from the negotiated session timeout)', () => {
  it.each([1_000, 2_000, 4_000, 6_000, 15_000, 40_000, 120_000])('orders its thresholds and keeps a margin before %i ms', (timeout) => {
    const plan = watchdogPlan(timeout);
    expect(plan.heartbeatAfter).toBeLessThan(plan.dropAfter);
    expect(plan.dropAfter).toBeLessThan(plan.lostAfter);
    // Loss must be declared before the server can expire the session, even when the check runs late by
    // two periods.
    expect(plan.lostAfter + 2 * plan.checkEvery).toBeLessThan(timeout);
    expect(plan.checkEvery).toBeGreaterThan(0);
  });

  it('follows the granted timeout, not the requested one', () => {
    expect(watchdogPlan(2_000).lostAfter).toBeLessThan(2_000);
    expect(watchdogPlan(6_000).lostAfter).toBeGreaterThan(watchdogPlan(2_000).lostAfter);
  });
});

describe('watchdogVerdict', () => {
  const plan = watchdogPlan(6_000);
  it('asks, then drops a silent connection, then gives the session up in any state', () => {
    expect(watchdogVerdict(plan, 0, true, false)).toBe('ok');
    expect(watchdogVerdict(plan, plan.heartbeatAfter, true, false)).toBe('heartbeat');
    expect(watchdogVerdict(plan, plan.heartbeatAfter, true, true)).toBe('ok');
    expect(watchdogVerdict(plan, plan.dropAfter, true, true)).toBe('drop');
    expect(watchdogVerdict(plan, plan.dropAfter, false, false)).toBe('ok');
    expect(watchdogVerdict(plan, plan.lostAfter, true, true)).toBe('lost');
    expect(watchdogVerdict(plan, plan.lostAfter, false, false)).toBe('lost');
  });
});
