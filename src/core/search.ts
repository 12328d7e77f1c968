import type { z } from 'zod';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { type ContextOptions, spreadContext } from './context.js';
import { type FusionOptions, fuseRanks, type RankedId, singleSignal } from './ranking.js';
import { decayed, type RecencyOptions, recencyPool } from './recency.js';
import type { searchSchema } from './schemas.js';
import { queryTerms } from './text.js';
import type { KeywordHit, SearchMode, SearchResult, StoreFilter, VectorHit } from './types.js';

export interface SearchOptions extends FusionOptions {
  /** How many candidates each signal contributes before fusion (at least 2 × limit). */
  candidates: number;
  /** Conversation context in hybrid search (see context.ts); window 0 turns it off. */
  context: ContextOptions;
  /** Recency decay (recency.ts); half-life 0 turns it off. */
  recency?: RecencyOptions | undefined;
}

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

export async function searchMemories(
  store: MemoryStore,
  embedder: Embedder,
  options: SearchOptions,
  request: SearchRequest,
): Promise<SearchResponse> {
  const { userId, query } = request;
  const candidates = Math.max(options.candidates, query.limit * 2);
  const timings: Timings = { embedMs: 0, keywordMs: 0, vectorMs: 0, contextMs: 0, totalMs: 0 };

  const { keywordHits, vectorHits } = await retrieve(store, embedder, request, candidates, timings);
  let ranked = rank(query.mode, keywordHits, vectorHits, options);
  if (query.mode === 'hybrid' && options.context.window > 0 && ranked.length > 0) {
    const t = performance.now();
    ranked = await withContext(store, request, ranked, options);
    timings.contextMs = performance.now() - t;
  }
  const recency = options.recency;
  const results =
    recency && recency.halfLifeDays > 0
      ? decayed(
          await assemble(store, userId, ranked.slice(0, recencyPool(query.limit))),
          recency,
          request.filter.now,
        ).slice(0, query.limit)
      : await assemble(store, userId, ranked.slice(0, query.limit));
  timings.totalMs = performance.now() - request.startedAt;
  return { results, timings };
}

/** Each signal's candidates, best first; an unused signal (by mode, or for lack of terms or text) finds none. */
async function retrieve(
  store: MemoryStore,
  embedder: Embedder,
  { userId, query, filter }: SearchRequest,
  candidates: number,
  timings: Timings,
): Promise<{ keywordHits: KeywordHit[]; vectorHits: VectorHit[] }> {
  const terms = query.mode === 'vector' ? [] : queryTerms(query.query);
  const useVector = query.mode !== 'keyword' && query.query.trim().length > 0;
  // The query embedding runs in a worker: start it first so the (synchronous) keyword search overlaps it.
  const vectorPromise = (async (): Promise<VectorHit[]> => {
    if (!useVector) return [];
    let t = performance.now();
    const [vector] = (await embedder.embed([query.query], { scope: userId, urgent: true })) as [Float32Array];
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
  return { keywordHits, vectorHits };
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

/** Lends the best-fused memories' scores to their neighbours in their sessions (context.ts). */
async function withContext(
  store: MemoryStore,
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
async function assemble(store: MemoryStore, userId: string, top: RankedId[]): Promise<SearchResult[]> {
  const ids = top.map((r) => r.id);
  const found = await store.getMany(userId, ids);
  const memories = new Map(found.map((m) => [m.id, m]));
  const results: SearchResult[] = [];
  for (const item of top) {
    const memory = memories.get(item.id);
    if (memory) results.push({ memory, score: item.score, explanation: item.explanation });
  }
  return results;
}
