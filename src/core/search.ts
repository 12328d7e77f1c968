import type { z } from 'zod';
import { cosine, type Embedder } from '../embed/embedder.js';
import type { MemoryRecords, SearchIndex } from '../stores/store.js';
import { type ContextOptions, spreadContext } from './conversation-context.js';
import { type FusionOptions, fuseRanks, type RankedId, singleSignal } from './ranking.js';
import { decayed, type RecencyOptions, recencyPool } from './recency.js';
import { LIMITS, parseInput, searchSchema } from './schemas.js';
import { queryTerms } from './text.js';
import type { KeywordHit, Memory, SearchMode, SearchResult, StoreFilter, VectorHit } from './types.js';

export interface SearchOptions extends FusionOptions {
  /** How many candidates each signal contributes before fusion (at least 2 × limit). */
  candidates: number;
  /** Conversation context in hybrid search (see conversation-context.ts); window 0 turns it off. */
  context: ContextOptions;
  /** Recency decay (recency.ts); half-life 0 turns it off. */
  recency?: RecencyOptions | undefined;
  /** Cosine similarity to the query a result needs to count as relevant (a request may set its own). */
  minRelevance?: number | undefined;
}

/**
 * The threshold when neither the request nor the configuration sets one. Low on purpose: with the
 * default model an unrelated question still scores 0.25–0.30 against a personal store, and at 0.2
 * 3.6 % of the right answers on the personal fixture would be cut (BENCHMARKS.md); at 0.1 none
 * were, and results with no likeness at all (0 or negative) are still marked.
 */
export const DEFAULT_MIN_RELEVANCE = 0.1;

export interface SearchResponse {
  results: SearchResult[];
  timings: { embedMs: number; keywordMs: number; vectorMs: number; contextMs: number; totalMs: number };
}

type Timings = SearchResponse['timings'];

export interface SearchRequest {
  userId: string;
  query: z.output<typeof searchSchema>;
  filter: StoreFilter;
  /** `performance.now()` when the request arrived, so that `totalMs` includes its validation. */
  startedAt: number;
}

/**
 * The user's current memories nearest to a text, in exactly one agent scope (null: the user's
 * own), best first: what the LLM path compares a new fact with. `filter` is the scope's view.
 */
export async function nearestInScope(
  store: MemoryRecords & SearchIndex,
  embedder: Embedder,
  options: SearchOptions,
  request: { userId: string; agentId: string | null; text: string; limit: number; filter: StoreFilter },
): Promise<Memory[]> {
  const { userId, agentId, text, limit, filter } = request;
  const query = parseInput(searchSchema, { query: text.slice(0, LIMITS.queryChars), limit: Math.min(limit * 2, 100) });
  const { results } = await searchMemories(store, embedder, options, {
    userId,
    query,
    filter,
    startedAt: performance.now(),
  });
  return results
    .map((result) => result.memory)
    .filter((memory) => memory.agentId === agentId)
    .slice(0, limit);
}

export async function searchMemories(
  store: MemoryRecords & SearchIndex,
  embedder: Embedder,
  options: SearchOptions,
  request: SearchRequest,
): Promise<SearchResponse> {
  const { userId, query } = request;
  const candidates = candidatesFor(query, options);
  const timings: Timings = { embedMs: 0, keywordMs: 0, vectorMs: 0, contextMs: 0, totalMs: 0 };

  const { keywordHits, vectorHits, queryVector } = await retrieve(store, embedder, request, candidates, timings);
  let ranked = rank(query.mode, keywordHits, vectorHits, options);
  if (query.mode === 'hybrid' && options.context.window > 0 && ranked.length > 0) {
    const t = performance.now();
    ranked = await withContext(store, request, ranked, options);
    timings.contextMs = performance.now() - t;
  }
  const recency = options.recency;
  const assembled =
    recency && recency.halfLifeDays > 0
      ? decayed(
          await assemble(store, userId, ranked.slice(0, recencyPool(query.limit))),
          recency,
          request.filter.now,
        ).slice(0, query.limit)
      : await assemble(store, userId, ranked.slice(0, query.limit));
  const minRelevance = query.minRelevance ?? options.minRelevance ?? DEFAULT_MIN_RELEVANCE;
  let results = relevantFirst(await judgeRelevance(store, userId, assembled, queryVector, minRelevance));
  if (query.relevantOnly) results = results.filter((result) => result.relevant);
  timings.totalMs = performance.now() - request.startedAt;
  return { results, timings };
}

/**
 * How many hits each signal is asked for. Fusion needs candidates beyond the page (a memory ranked
 * 30th by words may be 2nd by meaning), and vector search's approximate index searches wider with
 * more. A keyword-only search uses no more than the page (or recency's pool, re-sorted by age):
 * its first hits are the same whatever the number asked for, and each one more is a row the store
 * reads to check it against the filter (PostgreSQL at 1,000 memories per user: 0.95 / 1.97 ms
 * p50 / p95 for 10 against 1.66 / 3.61 for 50, BENCHMARKS.md).
 */
function candidatesFor(query: SearchRequest['query'], options: SearchOptions): number {
  if (query.mode === 'keyword') {
    return options.recency && options.recency.halfLifeDays > 0 ? recencyPool(query.limit) : query.limit;
  }
  return Math.max(options.candidates, query.limit * 2);
}

/**
 * The relevant results in their ranked order, then the others in theirs: a result whose meaning is
 * unlike the query's (a word match on a word that says little, a conversation neighbour) never
 * comes before one that answers it, whatever the fusion made of its ranks.
 */
function relevantFirst(results: SearchResult[]): SearchResult[] {
  return [...results.filter((result) => result.relevant), ...results.filter((result) => !result.relevant)];
}

/**
 * Marks each result relevant or not by its meaning: the cosine similarity of its vector to the
 * query's, against `minRelevance`. A result the vector signal did not rank (found by keyword or
 * context only) is compared with its stored vector; in keyword mode there is no query vector, and a
 * word match is the evidence. A word match alone does not make a result relevant otherwise: the
 * word may be one that says nothing about the question ("what *should* I avoid eating?").
 */
async function judgeRelevance(
  store: SearchIndex,
  userId: string,
  results: Omit<SearchResult, 'relevant'>[],
  queryVector: Float32Array | null,
  minRelevance: number,
): Promise<SearchResult[]> {
  const similarity = new Map<string, number>();
  for (const result of results) {
    const ranked = result.explanation.vector?.similarity;
    if (ranked !== undefined) similarity.set(result.memory.id, ranked);
  }
  const missing = results.map((result) => result.memory.id).filter((id) => !similarity.has(id));
  if (queryVector && missing.length > 0) {
    for (const [id, vector] of await store.vectorsOf(userId, missing)) similarity.set(id, cosine(queryVector, vector));
  }
  return results.map((result) => {
    const value = queryVector ? (similarity.get(result.memory.id) ?? null) : null;
    // No query vector (keyword mode): the word match is the evidence. A memory without a usable
    // vector cannot be judged by meaning: it is not relevant by it.
    const relevant = queryVector ? value !== null && value >= minRelevance : true;
    return {
      ...result,
      relevant,
      explanation: { ...result.explanation, relevance: { similarity: value, minRelevance } },
    };
  });
}

/** Each signal's candidates, best first; an unused signal (by mode, or for lack of terms or text) finds none. */
async function retrieve(
  store: SearchIndex,
  embedder: Embedder,
  { userId, query, filter }: SearchRequest,
  candidates: number,
  timings: Timings,
): Promise<{ keywordHits: KeywordHit[]; vectorHits: VectorHit[]; queryVector: Float32Array | null }> {
  const terms = query.mode === 'vector' ? [] : queryTerms(query.query);
  const useVector = query.mode !== 'keyword' && query.query.trim().length > 0;
  // The query embedding runs in a worker: start it first so the (synchronous) keyword search overlaps it.
  let queryVector: Float32Array | null = null;
  const vectorPromise = (async (): Promise<VectorHit[]> => {
    if (!useVector) return [];
    let t = performance.now();
    const [vector] = (await embedder.embed([query.query], { scope: userId, urgent: true })) as [Float32Array];
    queryVector = vector;
    timings.embedMs = performance.now() - t;
    t = performance.now();
    const hits = await store.vectorSearch(userId, vector, filter, candidates);
    timings.vectorMs = performance.now() - t;
    return hits;
  })();
  const keywordPromise = (async (): Promise<KeywordHit[]> => {
    if (terms.length === 0) return [];
    // Let the embedding request reach its worker before the store call blocks this thread.
    if (useVector) await new Promise((resolve) => setImmediate(resolve));
    const t = performance.now();
    const hits = await store.keywordSearch(userId, terms, filter, candidates);
    timings.keywordMs = performance.now() - t;
    return hits;
  })();
  const [keywordHits, vectorHits] = await Promise.all([keywordPromise, vectorPromise]);
  return { keywordHits, vectorHits, queryVector };
}

function rank(
  mode: SearchMode,
  keywordHits: KeywordHit[],
  vectorHits: VectorHit[],
  options: FusionOptions,
): RankedId[] {
  if (mode === 'hybrid') return fuseRanks(keywordHits, vectorHits, options);
  if (mode === 'keyword') return singleSignal('keyword', keywordHits);
  return singleSignal('vector', vectorHits);
}

/** Lends the best-fused memories' scores to their neighbours in their sessions (conversation-context.ts). */
async function withContext(
  store: MemoryRecords,
  { userId, query, filter }: SearchRequest,
  ranked: RankedId[],
  options: SearchOptions,
): Promise<RankedId[]> {
  const context = { ...options.context, sources: Math.max(options.context.sources, query.limit) };
  const sources = ranked.slice(0, context.sources).map((item) => item.id);
  const neighbours = await store.neighbours(userId, sources, context.window, filter);
  if (neighbours.size === 0) return ranked;
  const fusion = ranked[0]?.explanation.fusion ?? null;
  return spreadContext(ranked, neighbours, context, (id) => ({
    id,
    score: 0,
    explanation: { mode: 'hybrid', keyword: null, vector: null, fusion, context: null },
  }));
}

/** The ranked memories in rank order; one deleted since it was ranked is left out. */
async function assemble(
  store: MemoryRecords,
  userId: string,
  top: RankedId[],
): Promise<Omit<SearchResult, 'relevant'>[]> {
  const ids = top.map((r) => r.id);
  const found = await store.getMany(userId, ids);
  const memories = new Map(found.map((m) => [m.id, m]));
  const results: Omit<SearchResult, 'relevant'>[] = [];
  for (const item of top) {
    const memory = memories.get(item.id);
    if (memory) results.push({ memory, score: item.score, explanation: item.explanation });
  }
  return results;
}
