import { describe, expect, it } from 'vitest';
import { aggregateByCategory, hitAtK, mean, recallAtK, reciprocalRank } from '../../bench/metrics.js';
import { percentile, summarize } from '../../bench/stats.js';

describe('recallAtK', () => {
  const retrieved = ['m1', 'm2', 'm3', 'm4', 'm5'];

  it('is 1 when the single evidence item is within k, 0 when it is below', () => {
    expect(recallAtK(retrieved, ['m3'], 3)).toBe(1);
    expect(recallAtK(retrieved, ['m3'], 2)).toBe(0);
  });

  it('gives 0.5 for evidence of size 2 with one found', () => {
    expect(recallAtK(retrieved, ['m2', 'm9'], 5)).toBe(0.5);
    expect(recallAtK(retrieved, ['m2', 'm5'], 4)).toBe(0.5);
    expect(recallAtK(retrieved, ['m2', 'm5'], 5)).toBe(1);
  });

  it('counts a duplicated retrieved id once, and the duplicate still takes a position', () => {
    expect(recallAtK(['m1', 'm1', 'm2'], ['m1', 'm2'], 2)).toBe(0.5);
    expect(recallAtK(['m1', 'm1', 'm1'], ['m1', 'm2'], 3)).toBe(0.5);
    expect(recallAtK(['m1', 'm1', 'm2'], ['m1', 'm2'], 3)).toBe(1);
  });

  it('counts duplicated evidence ids once', () => {
    expect(recallAtK(['m1'], ['m1', 'm1'], 1)).toBe(1);
    expect(recallAtK(['m2'], ['m1', 'm1', 'm2'], 1)).toBe(0.5);
  });

  it('uses the whole list when k is larger than it', () => {
    expect(recallAtK(['m1', 'm2'], ['m2'], 25)).toBe(1);
    expect(recallAtK(['m1', 'm2'], ['m2', 'm3', 'm4'], 25)).toBeCloseTo(1 / 3);
    expect(recallAtK([], ['m1'], 10)).toBe(0);
  });

  it('refuses empty evidence and non-positive k', () => {
    expect(() => recallAtK(retrieved, [], 5)).toThrow(RangeError);
    expect(() => recallAtK(retrieved, ['m1'], 0)).toThrow(RangeError);
    expect(() => recallAtK(retrieved, ['m1'], 1.5)).toThrow(RangeError);
  });
});

describe('hitAtK and reciprocalRank', () => {
  it('hit is 1 when any evidence item is within k', () => {
    expect(hitAtK(['a', 'b', 'c'], ['c', 'z'], 3)).toBe(1);
    expect(hitAtK(['a', 'b', 'c'], ['c', 'z'], 2)).toBe(0);
  });

  it('reciprocal rank uses the first evidence hit', () => {
    expect(reciprocalRank(['a', 'b', 'c'], ['c', 'b'])).toBe(0.5);
    expect(reciprocalRank(['a'], ['z'])).toBe(0);
  });
});

describe('mean', () => {
  it('averages and is NaN when empty', () => {
    expect(mean([1, 0, 0.5, 0.5])).toBe(0.5);
    expect(mean([])).toBeNaN();
  });
});

describe('aggregateByCategory', () => {
  // A hand-made fixture: 4 questions over 2 categories, retrieved lists and evidence given.
  const fixture = [
    { category: 2, retrieved: ['a', 'b', 'c'], evidence: ['a'] }, // R@1 1,  R@3 1
    { category: 1, retrieved: ['x', 'y', 'y'], evidence: ['y', 'q'] }, // R@1 0,  R@3 0.5
    { category: 1, retrieved: ['p'], evidence: ['p', 'r'] }, // R@1 0.5, R@3 0.5
    { category: 2, retrieved: ['d', 'e', 'f'], evidence: ['z'] }, // R@1 0,  R@3 0
  ];
  const items = fixture.map((q) => ({
    category: q.category,
    scores: { 'R@1': recallAtK(q.retrieved, q.evidence, 1), 'R@3': recallAtK(q.retrieved, q.evidence, 3) },
  }));

  it('averages each score overall and per category, categories in ascending order', () => {
    const report = aggregateByCategory(items);
    expect(report.overall.count).toBe(4);
    expect(report.overall.means['R@1']).toBeCloseTo(1.5 / 4);
    expect(report.overall.means['R@3']).toBeCloseTo(2 / 4);
    expect(Object.keys(report.byCategory)).toEqual(['1', '2']);
    expect(report.byCategory['1']).toEqual({ count: 2, means: { 'R@1': 0.25, 'R@3': 0.5 } });
    expect(report.byCategory['2']).toEqual({ count: 2, means: { 'R@1': 0.5, 'R@3': 0.5 } });
  });

  it('handles an empty list', () => {
    const report = aggregateByCategory([]);
    expect(report.overall.count).toBe(0);
    expect(report.byCategory).toEqual({});
  });
});

describe('percentiles', () => {
  it('interpolates between ranks', () => {
    const values = [5, 1, 4, 2, 3]; // unsorted on purpose
    expect(percentile(values, 50)).toBe(3);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(5);
    expect(percentile(values, 25)).toBe(2);
    expect(percentile([1, 2], 50)).toBe(1.5);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarizes', () => {
    const s = summarize(Array.from({ length: 101 }, (_, i) => i));
    expect(s).toMatchObject({ n: 101, min: 0, max: 100, mean: 50, p50: 50, p95: 95, p99: 99 });
  });
});
