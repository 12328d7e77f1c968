/**
 * Near-duplicate folding for a batch write (config `memory.nearDuplicates`): which new items of a
 * batch fold into a memory the user can already see, or into an earlier new item of the same batch.
 * The comparison itself is near-duplicates.ts; the write that applies the folds is insert.ts.
 */
import type { MemoryStore } from '../stores/store.js';
import type { InsertTarget, ParsedAdd } from './insert-input.js';
import { type Comparable, type Comparison, compare, type NearDuplicateOptions, signature } from './near-duplicates.js';
import { queryTerms } from './text.js';
import type { Memory, StoreFilter } from './types.js';

/** What one new item folds into: a stored memory, or the earlier new item `of` of the same batch. */
export type Merge =
  | { into: 'stored'; memory: Memory; comparison: Comparison }
  | { into: 'batch'; of: number; comparison: Comparison };

/** Largest batch whose new items are also compared with each other (pairwise work grows with its square). */
const PAIRWISE_LIMIT = 256;

/**
 * For each new item that is a near-duplicate of a memory the user can see (same agent scope), or
 * of an earlier new item of the batch, what it folds into. Stored memories are looked up by keyword
 * search over the item's words and compared by their stored vectors.
 */
export async function findMerges(
  target: InsertTarget,
  options: NearDuplicateOptions,
  fresh: { index: number; input: ParsedAdd }[],
  vectorOf: (index: number) => Float32Array,
): Promise<Map<number, Merge>> {
  const { store, userId, visible } = target;
  const merges = new Map<number, Merge>();
  const kept: { index: number; agentId: string | null; item: Comparable }[] = [];
  for (const { index, input } of fresh) {
    // Already-expired items are stored as given (hidden): nothing folds into them, nor they into anything.
    if (input.infer !== true || (input.expiresAt !== undefined && input.expiresAt <= visible.now)) continue;
    const item: Comparable = { signature: signature(input.content), vector: vectorOf(index) };
    const agentId = input.agentId ?? null;
    const stored = await nearestStored(store, userId, visible, options, input.content, agentId, item);
    if (stored) {
      merges.set(index, { into: 'stored', ...stored });
      continue;
    }
    if (fresh.length <= PAIRWISE_LIMIT) {
      const earlier = kept.find((k) => k.agentId === agentId && compare(item, k.item, options).match);
      if (earlier) {
        merges.set(index, { into: 'batch', of: earlier.index, comparison: compare(item, earlier.item, options) });
        continue;
      }
    }
    kept.push({ index, agentId, item });
  }
  return merges;
}

async function nearestStored(
  store: MemoryStore,
  userId: string,
  visible: StoreFilter,
  options: NearDuplicateOptions,
  content: string,
  agentId: string | null,
  item: Comparable,
): Promise<{ memory: Memory; comparison: Comparison } | null> {
  const terms = queryTerms(content);
  if (terms.length === 0) return null;
  const hits = await store.keywordSearch(userId, terms, visible, options.candidates);
  if (hits.length === 0) return null;
  const ids = hits.map((hit) => hit.id);
  const [memories, vectors] = await Promise.all([store.getMany(userId, ids), store.vectorsOf(userId, ids)]);
  let best: { memory: Memory; comparison: Comparison } | null = null;
  for (const memory of memories) {
    const vector = vectors.get(memory.id);
    if (!vector || memory.agentId !== agentId) continue;
    const comparison = compare(item, { signature: signature(memory.content), vector }, options);
    if (comparison.match && (!best || comparison.similarity > best.comparison.similarity))
      best = { memory, comparison };
  }
  return best;
}
