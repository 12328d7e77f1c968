import { describe, expect, it } from 'vitest';
import { fuseRanks } from '../../src/core/ranking.js';

const options = { k: 5, keywordWeight: 1, vectorWeight: 0.5 };

describe('fuseRanks', () => {
  it('scales a keyword hit by how much of the query it covers: a weak word match no longer beats a strong semantic one', () => {
    // "what should I avoid eating?": the top keyword hit matches only the common word "should";
    // the allergy memory is the vector signal's best and matches no word.
    const keyword = [{ id: 'standup', score: 2.1, coverage: 0.1 }];
    const vector = [{ id: 'allergy', similarity: 0.42 }];
    const covered = fuseRanks(keyword, vector, { ...options, keywordCoverageFloor: 0.3 });
    expect(covered.map((r) => r.id)).toEqual(['allergy', 'standup']);
    expect(covered[1]?.explanation.keyword).toEqual({ rank: 1, score: 2.1, coverage: 0.1 });
    // Coverage ignored (floor 1, or a store that does not report it): the keyword rank wins.
    expect(fuseRanks(keyword, vector, { ...options, keywordCoverageFloor: 1 }).map((r) => r.id)).toEqual([
      'standup',
      'allergy',
    ]);
    const { coverage: _, ...unreported } = keyword[0] as { id: string; score: number; coverage: number };
    expect(fuseRanks([unreported], vector, { ...options, keywordCoverageFloor: 0.3 })[0]?.id).toBe('standup');
  });

  it('keeps a keyword hit covering the whole query at full weight', () => {
    const full = fuseRanks([{ id: 'a', score: 3, coverage: 1 }], [], { ...options, keywordCoverageFloor: 0.3 });
    const off = fuseRanks([{ id: 'a', score: 3 }], [], options);
    expect(full[0]?.score).toBeCloseTo(off[0]?.score as number, 12);
  });
});
