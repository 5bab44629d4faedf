import { LeadershipInput, LeadershipState, nextLeadership, rejoinDelay, REJOIN_MAX_MS } from '../../lib/lock/leadership-state';

const joining: LeadershipState = { kind: 'joining', failures: 0 };
const leading: LeadershipState = { kind: 'leading' };
const pausing: LeadershipState = { kind: 'pausing', failures: 2 };
const closed: LeadershipState = { kind: 'closed' };

describe('leadership decisions (pure)', () => {
  it('leads when granted, and rejoins after a lost term: the term ends before its lock is released', () => {
    expect(nextLeadership(joining, { type: 'granted' })).toEqual({ state: leading, actions: ['begin-term'] });
    expect(nextLeadership(leading, { type: 'term-ended', rejoin: true })).toEqual({
      state: { kind: 'joining', failures: 0 },
      actions: ['end-term', 'release', 'join'],
    });
  });

  it('ends the term first on close, and never rejoins after a term lost during shutdown', () => {
    expect(nextLeadership(leading, { type: 'close' })).toEqual({ state: closed, actions: ['end-term', 'release', 'finish'] });
    expect(nextLeadership(leading, { type: 'term-ended', rejoin: false })).toEqual({ state: closed, actions: ['end-term', 'release', 'finish'] });
  });

  it('pauses after a failed join, longer each time, and stops for good when the failure is final', () => {
    expect(nextLeadership(joining, { type: 'join-failed', final: false })).toEqual({ state: { kind: 'pausing', failures: 1 }, actions: ['schedule-retry'] });
    expect(nextLeadership({ kind: 'joining', failures: 3 }, { type: 'join-failed', final: false }).state).toEqual({ kind: 'pausing', failures: 4 });
    expect(nextLeadership(pausing, { type: 'retry-due' })).toEqual({ state: { kind: 'joining', failures: 2 }, actions: ['join'] });
    expect(nextLeadership(joining, { type: 'join-failed', final: true })).toEqual({ state: closed, actions: ['finish'] });
  });

  it('cancels whatever is pending on close: a join, or the pause before the next one', () => {
    expect(nextLeadership(joining, { type: 'close' })).toEqual({ state: closed, actions: ['cancel-join', 'finish'] });
    expect(nextLeadership(pausing, { type: 'close' })).toEqual({ state: closed, actions: ['cancel-retry', 'finish'] });
  });

  it('once closed, gives back a grant that lands late and ignores everything else', () => {
    expect(nextLeadership(closed, { type: 'granted' })).toEqual({ state: closed, actions: ['release'] });
    const others: LeadershipInput[] = [
      { type: 'close' },
      { type: 'retry-due' },
      { type: 'term-ended', rejoin: true },
      { type: 'join-failed', final: false },
    ];
    for (const input of others) expect(nextLeadership(closed, input)).toEqual({ state: closed, actions: [] });
  });

  it('ignores inputs that cannot happen in a state (no double term, no join while leading)', () => {
    expect(nextLeadership(leading, { type: 'granted' })).toEqual({ state: leading, actions: [] });
    expect(nextLeadership(leading, { type: 'retry-due' })).toEqual({ state: leading, actions: [] });
    expect(nextLeadership(joining, { type: 'term-ended', rejoin: true })).toEqual({ state: joining, actions: [] });
    expect(nextLeadership(pausing, { type: 'granted' })).toEqual({ state: pausing, actions: [] });
  });

  it('spaces rejoins from 50-100 ms up to at most 5 s, half of it random', () => {
    expect(rejoinDelay(1, () => 0)).toBe(50);
    expect(rejoinDelay(1, () => 1)).toBe(100);
    expect(rejoinDelay(3, () => 0)).toBe(200);
    expect(rejoinDelay(50, () => 1)).toBe(REJOIN_MAX_MS);
    expect(rejoinDelay(50, () => 0)).toBe(REJOIN_MAX_MS / 2);
  });
});
