import { sharedPosition, queuePosition } from '../../lib/recipes/lock-queue';
import { slotHolders, slotPosition } from '../../lib/recipes/semaphore';

const seq = (n: number) => String(n).padStart(10, '0');
const w = (token: string, n: number) => `w-${token}-${seq(n)}`;
const r = (token: string, n: number) => `r-${token}-${seq(n)}`;
const l = (limit: number, token: string, n: number) => `l${limit}-${token}-${seq(n)}`;

describe('sharedPosition (a shared waiter in the queue)', () => {
  it('may join when only shared waiters are ahead', () => {
    expect(sharedPosition([r('aa', 1), r('bb', 2), r('cc', 3)], r('cc', 3))).toEqual({ kind: 'head' });
  });

  it('waits behind the nearest exclusive waiter ahead, and watches only it', () => {
    const children = [r('aa', 1), w('bb', 2), r('cc', 3), w('dd', 4), r('ee', 5)];
    expect(sharedPosition(children, r('ee', 5))).toEqual({ kind: 'behind', predecessor: w('dd', 4), ahead: 4 });
    expect(sharedPosition(children, r('cc', 3))).toEqual({ kind: 'behind', predecessor: w('bb', 2), ahead: 2 });
    expect(sharedPosition(children, r('aa', 1))).toEqual({ kind: 'head' });
  });

  it('ignores our own strays and says missing when our node is gone', () => {
    expect(sharedPosition([w('ee', 1), r('ee', 2)], r('ee', 2), 'ee')).toEqual({ kind: 'head' });
    expect(sharedPosition([r('aa', 1)], r('zz', 9))).toEqual({ kind: 'missing' });
  });

  it('an exclusive waiter waits behind shared waiters too (watching the one right before it), and keeps the gate when only shared ones are ahead', () => {
    expect(queuePosition([r('aa', 1), r('bb', 2), w('cc', 3)], w('cc', 3))).toEqual({ kind: 'behind', predecessor: r('bb', 2), ahead: 2, gatekeeper: true });
  });

  it('an exclusive waiter behind another exclusive one watches that one too when it is not right before it', () => {
    const children = [r('aa', 1), w('bb', 2), r('cc', 3), w('dd', 4), w('ee', 5)];
    expect(queuePosition(children, w('dd', 4))).toEqual({ kind: 'behind', predecessor: r('cc', 3), ahead: 3, exclusiveAhead: w('bb', 2) });
    expect(queuePosition(children, w('ee', 5))).toEqual({ kind: 'behind', predecessor: w('dd', 4), ahead: 4 }); // the same one
    expect(queuePosition(children, w('bb', 2))).toEqual({ kind: 'behind', predecessor: r('aa', 1), ahead: 1, gatekeeper: true });
    // Our own strays are nobody's gatekeeper.
    expect(queuePosition([w('ee', 1), r('aa', 2), w('ee', 3)], w('ee', 3), 'ee')).toEqual({ kind: 'behind', predecessor: r('aa', 2), ahead: 1, gatekeeper: true });
  });
});

describe('slotPosition (a limited caller)', () => {
  it('holds while fewer than `limit` are ahead of it', () => {
    const children = [l(2, 'aa', 1), l(2, 'bb', 2), l(2, 'cc', 3)];
    expect(slotPosition(children, l(2, 'aa', 1))).toEqual({ kind: 'holder' });
    expect(slotPosition(children, l(2, 'bb', 2))).toEqual({ kind: 'holder' });
    expect(slotPosition(children, l(2, 'cc', 3))).toEqual({ kind: 'waiting', watch: [l(2, 'aa', 1), l(2, 'bb', 2)], ahead: 2, limit: 2 });
  });

  it('watches only the `limit` nodes right before it (no herd): a leave further ahead wakes nobody', () => {
    const children = [1, 2, 3, 4, 5, 6].map((n) => l(2, `a${n}`, n));
    expect(slotPosition(children, l(2, 'a6', 6))).toMatchObject({ kind: 'waiting', watch: [l(2, 'a4', 4), l(2, 'a5', 5)] });
  });

  it('applies the smallest limit among those ahead, and watches the node that sets it', () => {
    const children = [l(1, 'aa', 1), l(5, 'bb', 2), l(5, 'cc', 3)];
    expect(slotPosition(children, l(5, 'bb', 2))).toEqual({ kind: 'waiting', watch: [l(1, 'aa', 1)], ahead: 1, limit: 1 });
    // cc: limit 1 applies; its window is bb; the node that sets the limit (aa) is watched too.
    expect(slotPosition(children, l(5, 'cc', 3))).toEqual({ kind: 'waiting', watch: [l(5, 'bb', 2), l(1, 'aa', 1)], ahead: 2, limit: 1 });
    // A smaller limit of one's own applies whoever is ahead.
    expect(slotPosition([l(3, 'aa', 1), l(1, 'bb', 2)], l(1, 'bb', 2))).toMatchObject({ kind: 'waiting', limit: 1 });
  });

  it('never counts more holders than the smallest limit among holders, whatever the mix', () => {
    const limits = [3, 5, 1, 2, 4, 4, 1, 3];
    for (let start = 0; start < limits.length; start++) {
      const children = limits.slice(start).map((limit, i) => l(limit, `b${i}`, i));
      const holders = slotHolders(children);
      expect(holders.length).toBeLessThanOrEqual(Math.min(...holders.map((h) => h.limit)));
      for (const name of children) {
        expect(slotPosition(children, name).kind === 'holder').toBe(holders.some((h) => h.name === name));
      }
    }
  });

  it('skips foreign names and our own strays; missing when our node is gone', () => {
    expect(slotPosition(['junk', l(1, 'aa', 1), l(1, 'bb', 2)], l(1, 'bb', 2), 'bb')).toMatchObject({ kind: 'waiting' });
    expect(slotPosition([l(1, 'bb', 1), l(1, 'bb', 2)], l(1, 'bb', 2), 'bb')).toEqual({ kind: 'holder' });
    expect(slotPosition([l(1, 'aa', 1)], l(1, 'zz', 2))).toEqual({ kind: 'missing' });
    expect(slotPosition([l(0, 'aa', 1), l(1, 'bb', 2)], l(1, 'bb', 2))).toEqual({ kind: 'holder' }); // limit 0 is no node of ours
  });
});
