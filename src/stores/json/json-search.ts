import { matchesFilter } from '../../core/filter.js';
import { words } from '../../core/text.js';
import type { CategoryCount, DayCount, KeywordHit, Memory, StoreFilter, VectorHit } from '../../core/types.js';
import { cosine } from '../../embed/embedder.js';

const BM25_K1 = 1.2;
const BM25_B = 0.75;

interface DocTerms {
  counts: Map<string, number>;
  length: number;
}

const docTermsCache = new WeakMap<Memory, DocTerms>();

/** Term frequencies of a memory's content; memoised because stored memories are never mutated. */
function docTerms(memory: Memory): DocTerms {
  const known = docTermsCache.get(memory);
  if (known) return known;
  const tokens = words(memory.content);
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  const terms = { counts, length: tokens.length };
  docTermsCache.set(memory, terms);
  return terms;
}

/** Okapi BM25 (k1 = 1.2, b = 0.75) over `docs`, with the non-negative idf of Lucene; offers every match to `top`. */
function bm25(docs: Memory[], terms: string[], top: TopK): void {
  const stats = docs.map(docTerms);
  const averageLength = stats.reduce((sum, doc) => sum + doc.length, 0) / Math.max(1, stats.length) || 1;
  const idf = terms.map((term) => {
    const df = stats.filter((doc) => doc.counts.has(term)).length;
    return { term, weight: Math.log(1 + (docs.length - df + 0.5) / (df + 0.5)) };
  });
  docs.forEach((memory, index) => {
    const doc = stats[index] as DocTerms;
    const norm = BM25_K1 * (1 - BM25_B + (BM25_B * doc.length) / averageLength);
    let score = 0;
    for (const { term, weight } of idf) {
      const tf = doc.counts.get(term) ?? 0;
      if (tf > 0) score += (weight * tf * (BM25_K1 + 1)) / (tf + norm);
    }
    if (score > 0) top.offer(memory.id, score);
  });
}

/** Keeps the `limit` best (id, score) pairs offered, best first; equal scores put the newer id first. */
class TopK {
  readonly #limit: number;
  readonly #items: { id: string; score: number }[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  offer(id: string, score: number): void {
    const items = this.#items;
    const last = items[items.length - 1];
    if (items.length >= this.#limit && (last === undefined || !outranks(id, score, last))) return;
    let low = 0;
    let high = items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (outranks(id, score, items[mid] as { id: string; score: number })) high = mid;
      else low = mid + 1;
    }
    items.splice(low, 0, { id, score });
    if (items.length > this.#limit) items.pop();
  }

  best(): { id: string; score: number }[] {
    return this.#items;
  }
}

function outranks(id: string, score: number, other: { id: string; score: number }): boolean {
  return score > other.score || (score === other.score && id > other.id);
}

/** The `limit` best BM25 matches of `terms` (duplicates and empty terms ignored) among `docs`, best first. */
export function keywordHits(docs: Memory[], terms: string[], limit: number): KeywordHit[] {
  const wanted = [...new Set(terms)].filter((term) => term.length > 0);
  const top = new TopK(limit);
  if (wanted.length > 0) bm25(docs, wanted, top);
  return top.best();
}

/**
 * The `limit` memories whose vectors are most cosine-similar to `query`. Vectors of another
 * dimension never match, and neither does a zero vector (stored or queried): it has no direction,
 * so no similarity (as sqlite-vec, whose distance is NULL for it).
 */
export function vectorHits(
  docs: Memory[],
  vectors: ReadonlyMap<string, Float32Array>,
  query: Float32Array,
  limit: number,
): VectorHit[] {
  const top = new TopK(limit);
  if (!hasDirection(query)) return [];
  for (const memory of docs) {
    const stored = vectors.get(memory.id);
    if (stored?.length !== query.length || !hasDirection(stored)) continue;
    const similarity = cosine(query, stored);
    if (Number.isFinite(similarity)) top.offer(memory.id, similarity);
  }
  return top.best().map(({ id, score }) => ({ id, similarity: score }));
}

function hasDirection(vector: Float32Array): boolean {
  for (const value of vector) if (value !== 0) return true;
  return false;
}

/** Up to `limit` memories matching `filter` with ids below `before`, newest first, and whether more follow. */
export function newestFirst(
  ascending: Memory[],
  filter: StoreFilter,
  before: string | null,
  limit: number,
): { items: Memory[]; more: boolean } {
  const items: Memory[] = [];
  for (let i = ascending.length - 1; i >= 0; i--) {
    const memory = ascending[i] as Memory;
    if (before !== null && memory.id >= before) continue;
    if (!matchesFilter(memory, filter)) continue;
    if (items.length === limit) return { items, more: true };
    items.push(memory);
  }
  return { items, more: false };
}

/** How many of `docs` are in each category, by category name. */
export function categoryCounts(docs: Memory[]): CategoryCount[] {
  const counts = new Map<string, number>();
  for (const memory of docs) counts.set(memory.category, (counts.get(memory.category) ?? 0) + 1);
  return [...counts]
    .map(([category, count]) => ({ category, count }))
    .sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
}

/** Counts by the UTC day of `createdAt` (its first ten characters), oldest first. */
export function dayCounts(docs: Memory[]): DayCount[] {
  const counts = new Map<string, number>();
  for (const memory of docs) {
    const day = memory.createdAt.slice(0, 10);
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  return [...counts]
    .map(([day, count]) => ({ day, count }))
    .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}
