import { describe, expect, it } from 'vitest';
import { recallAt } from '../../bench/hnsw.js';

const hits = (...entries: [string, number][]) => entries.map(([id, similarity]) => ({ id, similarity }));

describe('HNSW recall against exact search (bench:hnsw, bench --store postgres)', () => {
  const truth = hits(['a', 0.9], ['b', 0.8], ['c', 0.7]);

  it('is 1 when the index finds the exact top k', () => {
    expect(recallAt(hits(['a', 0.9], ['b', 0.8], ['c', 0.7]), truth)).toEqual({ strict: 1, tieAware: 1, epsilon: 1 });
  });

  it('counts a memory as close as the exact last one as found when tie-aware, not when strict', () => {
    const found = hits(['a', 0.9], ['b', 0.8], ['twin-of-c', 0.7]);
    expect(recallAt(found, truth)).toEqual({ strict: 2 / 3, tieAware: 1, epsilon: 1 });
  });

  it('counts a memory within 1% of the exact last distance only in ε-recall, and a farther one as a miss', () => {
    // The exact last is at distance 0.3: 0.302 is within 1%, 0.31 is not.
    expect(recallAt(hits(['a', 0.9], ['b', 0.8], ['near', 0.698]), truth)).toEqual({
      strict: 2 / 3,
      tieAware: 2 / 3,
      epsilon: 1,
    });
    expect(recallAt(hits(['a', 0.9], ['b', 0.8], ['far', 0.69]), truth)).toEqual({
      strict: 2 / 3,
      tieAware: 2 / 3,
      epsilon: 2 / 3,
    });
  });

  it('is 1 when there is nothing to find', () => {
    expect(recallAt([], [])).toEqual({ strict: 1, tieAware: 1, epsilon: 1 });
  });
});
