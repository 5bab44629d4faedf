import { MAX_TIMER_MS, setLongTimeout } from '../../lib/recipes/long-timeout';

describe('setLongTimeout (pure timer arithmetic, fake clock)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('fires a delay longer than Node can hold at its due time, not after 1 ms', () => {
    const fired = jest.fn();
    const spy = jest.spyOn(global, 'setTimeout');
    setLongTimeout(fired, MAX_TIMER_MS * 2 + 5);
    expect(spy.mock.calls.every(([, ms]) => (ms as number) <= MAX_TIMER_MS)).toBe(true);
    jest.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(5);
    expect(fired).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  it('is not stretched by a wall-clock step back (NTP, a resumed VM): its due time is monotonic', () => {
    const fired = jest.fn();
    setLongTimeout(fired, 1_000);
    jest.advanceTimersByTime(500);
    jest.setSystemTime(Date.now() - 60_000); // Date steps back a minute; performance.now does not
    jest.advanceTimersByTime(500);
    expect(fired).toHaveBeenCalledTimes(1); // (a Date-based due time re-armed for the minute)
  });

  it('sets no timer for Infinity, and clear() stops a chained one', () => {
    const fired = jest.fn();
    setLongTimeout(fired, Infinity);
    expect(jest.getTimerCount()).toBe(0);
    const chained = setLongTimeout(fired, MAX_TIMER_MS + 10);
    jest.advanceTimersByTime(MAX_TIMER_MS);
    chained.clear();
    jest.advanceTimersByTime(100);
    expect(fired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });
});
