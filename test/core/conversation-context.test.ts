import { describe, expect, it } from 'vitest';
import { type Neighbours, neighboursAmong, spreadContext } from '../../src/core/conversation-context.js';
import type { RankedId } from '../../src/core/ranking.js';
import type { Memory } from '../../src/core/types.js';

const ranked = (id: string, score: number): RankedId => ({
  id,
  score,
  explanation: { mode: 'hybrid', keyword: { rank: 1, score: 1 }, vector: null, fusion: null, context: null },
});
const fresh = (id: string): RankedId => ({
  id,
  score: 0,
  explanation: { mode: 'hybrid', keyword: null, vector: null, fusion: null, context: null },
});

describe('spreadContext', () => {
  const neighbours = new Map<string, Neighbours>([
    ['q', { before: ['p'], after: ['a1', 'a2'] }],
    ['x', { before: ['a1'], after: [] }],
  ]);
  const options = { window: 2, following: 0.6, preceding: 0.4, sources: 2 };

  it("lends each source's score to its neighbours by direction and distance, and explains it", () => {
    const out = spreadContext([ranked('q', 0.1), ranked('x', 0.05), ranked('z', 0.045)], neighbours, options, fresh);
    const score = Object.fromEntries(out.map((item) => [item.id, item.score]));
    // a1: 0.6 × 0.1 (follows q) + 0.4 × 0.05 (precedes x) = 0.08; a2: 0.6 × 0.1 / 2 = 0.03; p: 0.4 × 0.1 = 0.04.
    expect(score.a1).toBeCloseTo(0.08, 10);
    expect(score.a2).toBeCloseTo(0.03, 10);
    expect(score.p).toBeCloseTo(0.04, 10);
    expect(score.q).toBeCloseTo(0.1, 10); // sources lend from their own scores; nobody lends to q
    expect(out.map((item) => item.id)).toEqual(['q', 'a1', 'x', 'z', 'p', 'a2']); // z (0.045) lands between x and p
    const a1 = out.find((item) => item.id === 'a1');
    expect(a1?.explanation.context).toEqual({
      boost: expect.closeTo(0.08, 10),
      from: [
        { id: 'q', offset: -1 },
        { id: 'x', offset: 1 },
      ],
    });
    expect(a1?.explanation.keyword).toBeNull(); // found by context alone
  });

  it('lets only the first `sources` lend', () => {
    const out = spreadContext([ranked('q', 0.1), ranked('x', 0.05)], neighbours, { ...options, sources: 1 }, fresh);
    expect(out.find((item) => item.id === 'a1')?.score).toBeCloseTo(0.06, 10);
  });
});

describe('neighboursAmong', () => {
  const memory = (id: string, sessionId: string | null, createdAt: string) =>
    ({ id, sessionId, createdAt }) as unknown as Memory;
  it('orders each session by createdAt then id and takes the window on each side', () => {
    const memories = [
      memory('c', 's', '2026-01-01T00:00:02Z'),
      memory('a', 's', '2026-01-01T00:00:01Z'),
      memory('b', 's', '2026-01-01T00:00:01Z'),
      memory('d', 't', '2026-01-01T00:00:01Z'),
      memory('e', null, '2026-01-01T00:00:01Z'),
    ];
    const found = neighboursAmong(memories, ['b', 'd', 'e'], 1);
    expect(found.get('b')).toEqual({ before: ['a'], after: ['c'] });
    expect(found.get('d')).toEqual({ before: [], after: [] });
    expect(found.has('e')).toBe(false);
  });
});
