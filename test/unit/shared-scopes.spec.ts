import { failedTarget, inTheWay, isMarked, mayHoldGroups, SHARED_SCOPE_MARK, takeOverOps } from '../../lib/recipes/shared-scopes';

describe('the shared-lock mark of a scope dir (pure)', () => {
  it('looks at the node in the way unless this session knows the scope has no shared locks', () => {
    expect(mayHoldGroups(undefined, 'a1')).toBe(true); // never read: may
    expect(mayHoldGroups({ marked: true }, 'a1')).toBe(true);
    expect(mayHoldGroups({ marked: false, sessionId: 'a1' }, 'a1')).toBe(false);
    expect(mayHoldGroups({ marked: false, sessionId: 'a1' }, 'b2')).toBe(true); // read on a session that ended
    expect(mayHoldGroups({ marked: false, sessionId: 'a1' }, undefined)).toBe(true);
  });

  it('recognises the mark only', () => {
    expect(isMarked(Buffer.from(SHARED_SCOPE_MARK))).toBe(true);
    expect(isMarked(Buffer.alloc(0))).toBe(false);
    expect(isMarked(Buffer.from('something else'))).toBe(false);
    expect(isMarked(undefined)).toBe(false);
  });
});

describe('the node in an exclusive fail-fast caller\'s way (pure)', () => {
  it('takes over only a node no session owns with nothing in it', () => {
    expect(inTheWay({ ephemeralOwner: 'a1', numChildren: 0 })).toBe('conflict'); // a lock
    expect(inTheWay({ ephemeralOwner: undefined, numChildren: 2 })).toBe('conflict'); // a group with members
    expect(inTheWay({ ephemeralOwner: undefined, numChildren: 1 })).toBe('conflict'); // e.g. only a waiting writer's gate
    expect(inTheWay({ ephemeralOwner: undefined, numChildren: 0 })).toBe('take-over'); // an empty group
    expect(inTheWay(null)).toBe('free');
  });

  it('removes each empty group after proving it is no lock, then creates every holder: all in one MULTI', () => {
    const data = Buffer.from('token');
    const ops = takeOverOps(['/ns/s/a', '/ns/s/b', '/ns/s/c'], new Map([[1, 0]]), data, 'probe');
    expect(ops).toEqual([
      { op: 'create', path: '/ns/s/b/probe' },
      { op: 'remove', path: '/ns/s/b/probe' },
      { op: 'remove', path: '/ns/s/b', version: 0 },
      { op: 'create', path: '/ns/s/a', data, mode: 'ephemeral' },
      { op: 'create', path: '/ns/s/b', data, mode: 'ephemeral' },
      { op: 'create', path: '/ns/s/c', data, mode: 'ephemeral' },
    ]);
  });

  it('maps a failed op back to the id it was about', () => {
    expect(failedTarget(undefined, [])).toEqual({ target: 0, removal: false }); // a plain create
    expect(failedTarget(2, [])).toEqual({ target: 2, removal: false }); // a MULTI of creates
    expect(failedTarget(0, [1])).toEqual({ target: 1, removal: true }); // the probe: a lock now
    expect(failedTarget(2, [1])).toEqual({ target: 1, removal: true }); // the removal: NOT_EMPTY, BAD_VERSION
    expect(failedTarget(3, [1])).toEqual({ target: 0, removal: false });
    expect(failedTarget(7, [2, 0])).toEqual({ target: 1, removal: false });
    expect(failedTarget(4, [2, 0])).toEqual({ target: 0, removal: true });
  });
});
