import { REMOVE_BATCH_BYTES, removeBatches, removeOpBytes } from '../../lib/recipes/remove-batches';

describe('remove batches (pure)', () => {
  it('keeps every batch of a big release well under the server packet limit, in order', () => {
    // 64 ids of 1000 escaped characters: 128 removes, about 1 MB of paths (issue 15, item 4).
    const holder = (i: number) => `/ns/default/${'%0025'.repeat(1000)}${i}`;
    const nodes = Array.from({ length: 64 }, (_, i) => [{ path: holder(i) }, { path: `${holder(i)}%q/w-ab-${String(i).padStart(10, '0')}` }]).flat();
    const batches = removeBatches(nodes);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(nodes);
    for (const batch of batches) {
      expect(batch.reduce((n, node) => n + removeOpBytes(node.path), 0)).toBeLessThanOrEqual(REMOVE_BATCH_BYTES);
    }
  });

  it('sends small releases as one batch, and an oversized node alone', () => {
    expect(removeBatches([{ path: '/a' }, { path: '/b' }])).toEqual([[{ path: '/a' }, { path: '/b' }]]);
    expect(removeBatches([{ path: '/a' }, { path: `/${'x'.repeat(100)}` }, { path: '/b' }], 50)).toEqual([
      [{ path: '/a' }],
      [{ path: `/${'x'.repeat(100)}` }],
      [{ path: '/b' }],
    ]);
  });
});
