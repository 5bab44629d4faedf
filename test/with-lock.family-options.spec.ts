/** @WithLock and @Locked refuse bad `shared`/`limit` options when the class is defined (issue 13). */
import { Locked, WithLock } from 'nestjs-zookeeper-lock';

describe('shared and limit options on the decorators', () => {
  it('accept shared: true and an integer limit', () => {
    expect(() => WithLock('params.id', { shared: true })).not.toThrow();
    expect(() => WithLock('params.tenant', { limit: 3 })).not.toThrow();
    expect(() => Locked(() => 'x', { shared: true })).not.toThrow();
    expect(() => Locked(() => 'x', { limit: 1 })).not.toThrow();
  });

  it.each([
    [{ shared: true, limit: 3 }, /cannot be used together/],
    [{ limit: 0 }, /limit must be an integer/],
    [{ limit: 2.5 }, /limit must be an integer/],
    [{ shared: 'yes' }, /shared must be a boolean/],
  ])('refuse %j with a TypeError', (options, message) => {
    expect(() => WithLock('params.id', options as never)).toThrow(TypeError);
    expect(() => WithLock('params.id', options as never)).toThrow(message);
    expect(() => Locked(() => 'x', options as never)).toThrow(TypeError);
    expect(() => Locked(() => 'x', options as never)).toThrow(message);
  });
});
