import { findOwnWaiter, queuePosition, sortWaiters, strayWaiters } from '../../lib/recipes/lock-queue';

const w = (token: string, seq: number) => `w-${token}-${String(seq).padStart(10, '0')}`;

describe('queue decisions (pure)', () => {
  const children = [w('cc', 12), w('aa', 3), 'garbage', w('bb', 7)];

  it('sorts waiters by sequence, ignoring foreign names', () => {
    expect(sortWaiters(children).map((x) => x.token)).toEqual(['aa', 'bb', 'cc']);
  });

  it('says the first waiter is at the head', () => {
    expect(queuePosition(children, w('aa', 3))).toEqual({ kind: 'head' });
  });

  it('makes each other waiter watch only its predecessor', () => {
    expect(queuePosition(children, w('bb', 7))).toEqual({ kind: 'behind', predecessor: w('aa', 3), ahead: 1 });
    expect(queuePosition(children, w('cc', 12))).toEqual({ kind: 'behind', predecessor: w('bb', 7), ahead: 2 });
  });

  it('notices when our node is gone', () => {
    expect(queuePosition(children, w('dd', 1))).toEqual({ kind: 'missing' });
  });

  it('finds our node by token after a lost create reply', () => {
    expect(findOwnWaiter(children, 'bb')).toBe(w('bb', 7));
    expect(findOwnWaiter(children, 'zz')).toBeUndefined();
  });

  it('never lets our own stray waiter nodes (same token) stand in our way, and names them for removal', () => {
    const withStray = [w('aa', 3), w('bb', 5), w('bb', 7), w('cc', 12)];
    expect(queuePosition(withStray, w('bb', 7), 'bb')).toEqual({ kind: 'behind', predecessor: w('aa', 3), ahead: 1 });
    expect(strayWaiters(withStray, 'bb', w('bb', 7))).toEqual([w('bb', 5)]);
    expect(queuePosition([w('bb', 5), w('bb', 7)], w('bb', 7), 'bb')).toEqual({ kind: 'head' });
    expect(strayWaiters(withStray, 'aa', w('aa', 3))).toEqual([]);
  });
});
