import type { KeywordHit, SearchExplanation, SearchMode, VectorHit } from './types.js';

export interface FusionOptions {
  /** RRF constant: larger values flatten the advantage of the very top ranks. */
  k: number;
  keywordWeight: number;
  vectorWeight: number;
}

export interface RankedId {
  id: string;
  score: number;
  explanation: SearchExplanation;
}

/**
 * Weighted reciprocal-rank fusion: score = Σ weight / (k + rank). A document found by one
 * signal only gets that signal's share. Ties break by keyword rank, then vector rank, then id.
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
  keyword.forEach((hit, index) => {
    const item = entry(hit.id);
    item.score += options.keywordWeight / (options.k + index + 1);
    item.explanation.keyword = { rank: index + 1, score: hit.score };
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
      explanation: { mode, keyword: { rank, score: hit.score }, vector: null, fusion: null, context: null },
    };
  });
}
