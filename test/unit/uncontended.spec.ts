import { mayTryUncontended, uncontendedNext } from '../../lib/recipes/uncontended';
import { queueRemovals } from '../../lib/recipes/release-plan';
import { ZookeeperError } from '../../lib/zookeeper/zookeeper.error';

const failure = (code: ConstructorParameters<typeof ZookeeperError>[0], opIndex?: number) => new ZookeeperError(code, code, '/x', opIndex);

describe('uncontended waiting acquire: decisions (pure)', () => {
  it('takes the lock when the MULTI succeeded', () => {
    expect(uncontendedNext(undefined)).toBe('taken');
  });

  it('queues up when a queue exists (someone waits) or the holder does (someone holds)', () => {
    expect(uncontendedNext(failure('NODE_EXISTS', 0))).toBe('queue');
    expect(uncontendedNext(failure('NODE_EXISTS', 2))).toBe('queue');
  });

  it('makes the scope dir when it is missing', () => {
    expect(uncontendedNext(failure('NO_NODE', 0))).toBe('make-scope');
  });

  it('resolves a MULTI without an answer by token (all three nodes or none), never by trying again blindly', () => {
    expect(uncontendedNext(failure('CONNECTION_LOSS'))).toBe('doubtful');
    expect(uncontendedNext(failure('OPERATION_TIMEOUT'))).toBe('doubtful');
  });

  it('leaves a server without containers, and an unreachable one, to the queued path; fails on the rest', () => {
    expect(uncontendedNext(failure('UNIMPLEMENTED', 0))).toBe('queue');
    expect(uncontendedNext(failure('UNAVAILABLE'))).toBe('queue');
    expect(uncontendedNext(failure('NO_AUTH', 0))).toBe('fail');
  });

  it('is tried only on a server known to have containers, and not while this process already waits for the id', () => {
    expect(mayTryUncontended('yes', 0)).toBe(true);
    expect(mayTryUncontended('yes', 1)).toBe(false);
    expect(mayTryUncontended('unknown', 0)).toBe(false);
    expect(mayTryUncontended('no', 0)).toBe(false);
  });
});

describe('release: which queues go in its MULTI (pure)', () => {
  const q = '/ns/s/a%q';
  it('removes a queue that holds only the waiter being removed', () => {
    expect(queueRemovals([{ queue: q, children: 1 }], ['/ns/s/a', `${q}/w-t-0000000001`])).toEqual({ remove: [q], probe: [] });
  });

  it('leaves a queue with other waiters to them', () => {
    expect(queueRemovals([{ queue: q, children: 3 }], ['/ns/s/a', `${q}/w-t-0000000001`])).toEqual({ remove: [], probe: [] });
  });

  it('probes a queue it could not read, and ignores one already gone', () => {
    expect(queueRemovals([{ queue: q, children: undefined }], ['/ns/s/a'])).toEqual({ remove: [], probe: [q] });
    expect(queueRemovals([{ queue: q, children: null }], ['/ns/s/a'])).toEqual({ remove: [], probe: [] });
  });

  it('removes a queue read as there and empty (our waiter node deleted by someone), but never an empty group', () => {
    expect(queueRemovals([{ queue: q, children: 0 }], ['/ns/s/a'])).toEqual({ remove: [q], probe: [] });
    // A group lives at a holder's path: read as empty, it may be an exclusive holder node by now.
    expect(queueRemovals([{ queue: '/ns/s/a', children: 0 }], ['/ns/s/b'], false)).toEqual({ remove: [], probe: [] });
    expect(queueRemovals([{ queue: '/ns/s/a', children: 1 }], ['/ns/s/a/s-t-0000000001'], false)).toEqual({ remove: ['/ns/s/a'], probe: [] });
  });

  it('does not count a node of another queue whose name starts alike', () => {
    expect(queueRemovals([{ queue: q, children: 1 }], [`${q}x/w-t-0000000001`])).toEqual({ remove: [], probe: [] });
  });
});
