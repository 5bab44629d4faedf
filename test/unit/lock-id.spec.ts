import { InvalidLockIdError } from '../../lib/lock/lock.errors';
import { decodeNodeName, encodeNodeName, MAX_ID_LENGTH, normalizeIds, normalizeScope } from '../../lib/lock/lock-id';
import { lockTarget, lockTargets } from '../../lib/recipes/lock-paths';
import { HOSTILE_IDS } from '../support/hostile-ids';

/** Characters ZooKeeper refuses in a node name (PathUtils.validatePath), plus the separator. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff/]/;

describe('lock ids (pure)', () => {
  it('encodes every id into a valid, distinct node name and back', () => {
    const names = new Map<string, string>();
    for (const id of HOSTILE_IDS) {
      const name = encodeNodeName(id);
      expect(name).not.toMatch(FORBIDDEN);
      expect(['.', '..', '']).not.toContain(name);
      expect(decodeNodeName(name)).toBe(id);
      expect(names.get(name)).toBeUndefined(); // injective on the corpus
      names.set(name, id);
    }
    expect(HOSTILE_IDS.length).toBeGreaterThanOrEqual(50);
  });

  it('keeps readable ids readable', () => {
    expect(encodeNodeName('order-42')).toBe('order-42');
    expect(encodeNodeName('user@example.com')).toBe('user@example.com');
    expect(encodeNodeName('a/b')).toBe('a%002fb');
  });

  it('never lets an id or scope reach outside its scope directory', () => {
    for (const id of HOSTILE_IDS) {
      const target = lockTarget('/locks', 'default', id);
      expect(target.holder.startsWith('/locks/default/')).toBe(true);
      expect(target.holder.split('/')).toHaveLength(4);
      expect(target.queue).toBe(`${target.holder}%q`);
      expect(lockTarget('/locks', id, 'x').holder.split('/')).toHaveLength(4);
    }
  });

  it('orders the targets of several ids the same way whatever the order given', () => {
    const a = lockTargets('/l', 's', ['b', 'a', 'c']).map((t) => t.id);
    const b = lockTargets('/l', 's', ['c', 'b', 'a']).map((t) => t.id);
    expect(a).toEqual(b);
  });

  it.each([
    ['', /must not be empty/],
    [[], /must not be empty/],
    [42, /must be a string, got number/],
    [null, /got null/],
    [{ id: 'x' }, /got object/],
    [['ok', 7], /got number/],
    ['x'.repeat(MAX_ID_LENGTH + 1), /limit is 1024/],
    [Array.from({ length: 65 }, (_, i) => `id${i}`), /At most 64/],
  ])('refuses %j', (id, message) => {
    expect(() => normalizeIds(id)).toThrow(InvalidLockIdError);
    expect(() => normalizeIds(id)).toThrow(message);
  });

  it('dedupes ids and validates scopes', () => {
    expect(normalizeIds(['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(normalizeScope(undefined)).toBe('default');
    expect(() => normalizeScope('')).toThrow(InvalidLockIdError);
  });
});
