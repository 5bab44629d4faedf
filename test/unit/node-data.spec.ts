import { carriesToken, decodeNodeData, defaultOwnerName, encodeNodeData, MAX_OWNER_NAME_LENGTH, nodeToken, ownerNameProblem } from '../../lib/recipes/node-data';
import { resolveOptions } from '../../lib/module/zookeeper-lock-options';

describe('node data (token, owner, acquisition time)', () => {
  const token = '3f9c0d5e1a2b4c6d1f';

  it('round-trips token, owner and time, owners with spaces and unicode included', () => {
    const since = Date.UTC(2026, 10, 29, 12, 0, 0, 123);
    for (const owner of ['web-1/4312', 'billing worker #2 (eu west)', 'hôte-é/1', '🙂/7']) {
      const data = encodeNodeData(token, owner, since);
      expect(decodeNodeData(data)).toEqual({ token, owner, since: new Date(since) });
      expect(nodeToken(data)).toBe(token);
    }
  });

  it('reads the older format (the token alone) as a token without owner or time', () => {
    const data = Buffer.from(token);
    expect(decodeNodeData(data)).toEqual({ token });
    expect(nodeToken(data)).toBe(token);
  });

  it('never takes a token that merely starts with ours for ours', () => {
    expect(nodeToken(encodeNodeData(`${token}0`, 'x', 1))).not.toBe(token);
    expect(nodeToken(Buffer.from(`${token}0`))).not.toBe(token);
    expect(carriesToken(encodeNodeData(token, 'x', 1), token)).toBe(true);
    expect(carriesToken(Buffer.from(token), token)).toBe(true);
    expect(carriesToken(encodeNodeData(`${token}0`, 'x', 1), token)).toBe(false);
    expect(carriesToken(Buffer.from(`${token}0`), token)).toBe(false);
    expect(carriesToken(Buffer.from(token.slice(1)), token)).toBe(false);
    expect(carriesToken(encodeNodeData(`x${token.slice(1)}`, 'x', 1), token)).toBe(false);
  });

  it('stays compact: under 60 bytes with a typical owner', () => {
    expect(encodeNodeData(token, 'web-1/4312').length).toBeLessThan(60);
    expect(encodeNodeData(token, 'x'.repeat(MAX_OWNER_NAME_LENGTH)).length).toBeLessThan(170);
  });

  it('checks ownerName: printable, 1 to 128 characters', () => {
    expect(ownerNameProblem('web-1/4312')).toBeUndefined();
    expect(ownerNameProblem('with spaces and ünïcode 🙂')).toBeUndefined();
    expect(ownerNameProblem('')).toMatch(/non-empty/);
    expect(ownerNameProblem(42)).toMatch(/non-empty string, got number/);
    expect(ownerNameProblem('x'.repeat(129))).toMatch(/at most 128/);
    expect(ownerNameProblem('a\nb')).toMatch(/printable/);
    expect(ownerNameProblem('a\u0000b')).toMatch(/printable/);
    expect(ownerNameProblem('a\ud800b')).toMatch(/surrogates/);
    expect(() => resolveOptions({ connectionString: 'localhost:2181', ownerName: 'a\tb' })).toThrow(
      'ZookeeperLockModule: option `ownerName` must be printable (no control characters or line breaks)',
    );
  });

  it('defaults to <hostname>/<pid>, cut to the limit and printable', () => {
    expect(resolveOptions({ connectionString: 'localhost:2181' }).ownerName).toMatch(new RegExp(`/${process.pid}$`));
    expect(defaultOwnerName('web-1', 42)).toBe('web-1/42');
    const long = defaultOwnerName('h'.repeat(300), 123456);
    expect(long).toHaveLength(MAX_OWNER_NAME_LENGTH);
    expect(long.endsWith('/123456')).toBe(true);
    expect(ownerNameProblem(defaultOwnerName('bad\u0001host', 1))).toBeUndefined();
  });
});
