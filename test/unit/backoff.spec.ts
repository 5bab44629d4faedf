import { BACKOFF_MAX_MS, backoffDelay, backoffFloor } from '../../lib/recipes/backoff';

describe('janitor backoff (pure)', () => {
  it('grows exponentially with jitter inside [floor, 2 x floor], and is capped', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const low = backoffDelay(attempt, () => 0);
      const high = backoffDelay(attempt, () => 1);
      expect(low).toBe(backoffFloor(attempt));
      expect(high).toBe(Math.min(BACKOFF_MAX_MS, 2 * low));
      if (attempt > 0 && high < BACKOFF_MAX_MS) expect(low).toBe(2 * backoffFloor(attempt - 1));
    }
    expect(backoffDelay(1_000, () => 1)).toBe(BACKOFF_MAX_MS);
  });
});
