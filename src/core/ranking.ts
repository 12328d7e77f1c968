import type { KeywordHit, SearchExplanation, SearchMode, VectorHit } from './types.js';

export interface FusionOptions {
  /** RRF constant: larger values flatten the advantage of the very top ranks. */
  k: number;
  keywordWeight: number;
  vectorWeight: number;
  /**
   * What a keyword hit covering none of the query's weight still counts (0–1; 1 = coverage is
   * ignored): its RRF share is scaled by floor + (1 − floor) × coverage.
   */
  keywordCoverageFloor?: number | undefined;
}

export interface RankedId {
  id: string;
  score: number;
  explanation: SearchExplanation;
}

/**
 * Weighted reciprocal-rank fusion: score = Σ weight / (k + rank). A document found by one
 * signal only gets that signal's share. Ties break by keyword rank, then vector rank, then id.
 *
 * A keyword rank says nothing about how much of the question a memory matched: the best keyword
 * hit of "what should I avoid eating?" may match only *should*. So a keyword hit's share is scaled
 * by its coverage of the query, each word weighed by how rare it is in the user's memories (idf),
 * when the store reports it: a memory matching the question's one rare word keeps most of its
 * share, one matching only a common word keeps little, and a strong semantic match can win.
 */
export function fuseRanks(keyword: KeywordHit[], vector: VectorHit[], options: FusionOptions): RankedId[] {
  const fusion = {
    method: 'rrf' as const,
    k: options.k,
    keywordWeight: options.keywordWeight,
    vectorWeight: options.vectorWeight,
  };
  const byId = new Map<string, RankedId>();
  const entry = (id: string): RankedId => {
    let found = byId.get(id);
    if (!found) {
      found = { id, score: 0, explanation: { mode: 'hybrid', keyword: null, vector: null, fusion, context: null } };
      byId.set(id, found);
    }
    return found;
  };
  const floor = options.keywordCoverageFloor ?? 1;
  keyword.forEach((hit, index) => {
    const item = entry(hit.id);
    const strength = hit.coverage === undefined ? 1 : floor + (1 - floor) * hit.coverage;
    item.score += (options.keywordWeight * strength) / (options.k + index + 1);
    item.explanation.keyword = keywordExplanation(index + 1, hit);
  });
  vector.forEach((hit, index) => {
    const item = entry(hit.id);
    item.score += options.vectorWeight / (options.k + index + 1);
    item.explanation.vector = { rank: index + 1, similarity: hit.similarity };
  });
  const rankOf = (value: { rank: number } | null) => value?.rank ?? Number.POSITIVE_INFINITY;
  return [...byId.values()].sort(
    (a, b) =>
      b.score - a.score ||
      rankOf(a.explanation.keyword) - rankOf(b.explanation.keyword) ||
      rankOf(a.explanation.vector) - rankOf(b.explanation.vector) ||
      (a.id < b.id ? -1 : 1),
  );
}

/** A single signal's ranking, explained the same way. */
export function singleSignal(mode: Exclude<SearchMode, 'hybrid'>, hits: KeywordHit[] | VectorHit[]): RankedId[] {
  return hits.map((hit, index) => {
    const rank = index + 1;
    if ('similarity' in hit) {
      return {
        id: hit.id,
        score: hit.similarity,
        explanation: { mode, keyword: null, vector: { rank, similarity: hit.similarity }, fusion: null, context: null },
      };
    }
    return {
      id: hit.id,
      score: hit.score,
      explanation: { mode, keyword: keywordExplanation(rank, hit), vector: null, fusion: null, context: null },
    };
  });
}

function keywordExplanation(rank: number, hit: KeywordHit): NonNullable<SearchExplanation['keyword']> {
  return { rank, score: hit.score, ...(hit.coverage !== undefined && { coverage: hit.coverage }) };
}
