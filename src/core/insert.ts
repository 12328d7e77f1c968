/**
 * The shared write path of add and import: parse a batch, embed ahead of the user's write lock,
 * find duplicates (exact here, near ones in merges.ts), and store the new memories (built by
 * new-memory.ts) with their history in one atomic insert. Its inputs' types are in insert-input.ts.
 */
import { isDuplicateContent } from '../stores/store.js';
import type { Decision } from './decision.js';
import { EngramError } from './errors.js';
import { historyEntry } from './history.js';
import { contentHash } from './ids.js';
import type { InsertTarget, ParsedAdd } from './insert-input.js';
import { findMerges, type Merge } from './merges.js';
import { mergedInto, mergeReason } from './near-duplicates.js';
import { dedupeTags, type NewMemory } from './new-memory.js';
import { type AddMemoryInput, addMemorySchema, InputError, parseInput } from './schemas.js';
import type { HistoryEntry, Memory, MemoryRecord, StoreFilter } from './types.js';

export type { ImportItem, InsertTarget, ParsedAdd } from './insert-input.js';

export interface AddResult {
  memory: Memory;
  /** True when the content was already there (identical, or a near-duplicate) and no new memory was stored. */
  duplicate: boolean;
  /** True when the content was a near-duplicate folded into `memory` (tags united, `updatedAt` bumped). */
  merged: boolean;
  /** With an LLM (an add with infer): what happened to each fact extracted from the content. */
  decisions?: Decision[];
}

export interface ImportBatchResult {
  /** One per item, in order; duplicates point at the memory that was already there (or earlier in the batch). */
  results: AddResult[];
  /** How many carried history entries were kept. */
  history: number;
}

/** The dedupe hash of `content` for `target`: the content hash, within the target's namespace if it has one. */
function hashFor(target: Pick<InsertTarget, 'dedupeNamespace'>, content: string): string {
  const namespace = target.dedupeNamespace;
  return contentHash(namespace === undefined ? content : `${namespace.length}:${namespace}\0${content}`);
}

/** Parses a batch of add inputs; an error names the item when there are several. */
export function parseBatch(inputs: AddMemoryInput[]): ParsedAdd[] {
  return inputs.map((input, index) => {
    try {
      const parsed = parseInput(addMemorySchema, input);
      if (parsed.ttlSeconds !== undefined && parsed.expiresAt !== undefined) {
        throw new InputError('ttlSeconds: give expiresAt or ttlSeconds, not both', [
          { path: 'ttlSeconds', message: 'give expiresAt or ttlSeconds, not both' },
        ]);
      }
      return parsed;
    } catch (error) {
      if (inputs.length > 1 && error instanceof EngramError) {
        throw new EngramError(error.code, `memories[${index}]: ${error.message}`, { details: error.details ?? {} });
      }
      throw error;
    }
  });
}

/**
 * Embeds, before the user's write lock is taken, the items of a batch that will probably be new:
 * no vector supplied, not earlier in the batch, content not already visible for the user. The
 * vectors are filled into `supplied`, so `insertNew` (under the lock) only re-checks duplicates
 * and writes — one user's concurrent adds share the model instead of queueing for it one after
 * another. Content that turns out to be a duplicate under the lock wastes its vector; content
 * deleted in between is embedded under the lock as before.
 */
export async function embedAhead(
  target: InsertTarget,
  parsed: readonly ParsedAdd[],
  supplied: (Float32Array | null)[],
): Promise<void> {
  const { store, embedder, userId, visible } = target;
  const first = new Map<string, number>();
  for (const [index, input] of parsed.entries()) {
    const hash = hashFor(target, input.content);
    if (supplied[index] === null && !first.has(hash)) first.set(hash, index);
  }
  if (first.size === 0) return;
  const stored = await store.findByHashes(userId, [...first.keys()], visible);
  const todo = [...first].filter(([hash]) => !stored.has(hash)).map(([, index]) => index);
  if (todo.length === 0) return;
  const vectors = await embedder.embed(
    todo.map((index) => (parsed[index] as ParsedAdd).content),
    { scope: userId },
  );
  todo.forEach((index, i) => {
    supplied[index] = vectors[i] as Float32Array;
  });
}

/**
 * `insertOnce`, tried again (up to three times) when the store refuses a new memory because
 * another process stored the same content between the duplicate lookup and the write: the next
 * try finds that memory and reports a duplicate, so each content is stored once across processes.
 */
export async function insertNew(
  ...args: Parameters<typeof insertOnce>
): Promise<{ results: AddResult[]; created: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await insertOnce(...args);
    } catch (error) {
      if (!isDuplicateContent(error) || attempt >= 3) throw error;
    }
  }
}

/**
 * The shared write path of add and import; runs under the user's write lock. Flags content that
 * is already visible for the user, or earlier in the batch, as a duplicate; embeds what has no
 * vector; stores the new memories with their history in one atomic insert.
 *
 * Dedupe matches visible memories only, so an expired or superseded copy never hides new content.
 * An item that is itself already expired would be hidden too; it matches hidden copies as well,
 * which keeps re-importing an export (expired memories included) idempotent.
 */
async function insertOnce(
  target: InsertTarget,
  parsed: ParsedAdd[],
  supplied: (Float32Array | null)[],
  make: (input: ParsedAdd, hash: string, index: number) => NewMemory,
): Promise<{ results: AddResult[]; created: number }> {
  const { store, embedder, userId, visible } = target;
  const everything: StoreFilter = { ...visible, includeExpired: true, includeSuperseded: true };
  const results: AddResult[] = [];
  const fresh: { index: number; input: ParsedAdd; hash: string }[] = [];
  /** The first new item per content hash: among visible items, and among all items. */
  const firstVisible = new Map<string, number>();
  const firstAny = new Map<string, number>();
  const copies: { index: number; of: number }[] = [];
  const hashes = parsed.map((input) => hashFor(target, input.content));
  const hiddenAt = (input: ParsedAdd) => input.expiresAt !== undefined && input.expiresAt <= visible.now;
  // One lookup per filter for the whole batch (the store does not change while the user's lock is held).
  const [storedVisible, storedAny] = await Promise.all([
    store.findByHashes(
      userId,
      hashes.filter((_, i) => !hiddenAt(parsed[i] as ParsedAdd)),
      visible,
    ),
    store.findByHashes(
      userId,
      hashes.filter((_, i) => hiddenAt(parsed[i] as ParsedAdd)),
      everything,
    ),
  ]);
  for (const [index, input] of parsed.entries()) {
    const hash = hashes[index] as string;
    const hidden = hiddenAt(input);
    const earlier = (hidden ? firstAny : firstVisible).get(hash);
    if (earlier !== undefined) {
      copies.push({ index, of: earlier });
      continue;
    }
    const existing = (hidden ? storedAny : storedVisible).get(hash) ?? null;
    if (existing) {
      results[index] = { memory: existing, duplicate: true, merged: false };
      continue;
    }
    if (!firstAny.has(hash)) firstAny.set(hash, index);
    if (!hidden) firstVisible.set(hash, index);
    fresh.push({ index, input, hash });
  }
  const toEmbed = fresh.filter(({ index }) => supplied[index] === null);
  const embedded =
    toEmbed.length > 0
      ? await embedder.embed(
          toEmbed.map(({ input }) => input.content),
          { scope: userId },
        )
      : [];
  const vectors = new Map(toEmbed.map(({ index }, i) => [index, embedded[i] as Float32Array]));
  const vectorOf = (index: number) => supplied[index] ?? (vectors.get(index) as Float32Array);
  const merges = target.nearDuplicates
    ? await findMerges(target, target.nearDuplicates, fresh, vectorOf)
    : new Map<number, Merge>();

  const records: MemoryRecord[] = [];
  const history: HistoryEntry[] = [];
  const built = new Map<number, Memory>();
  for (const { index, input, hash } of fresh) {
    if (merges.has(index)) continue;
    const made = make(input, hash, index);
    records.push({ memory: made.memory, vector: vectorOf(index) });
    history.push(...made.history);
    built.set(index, made.memory);
    results[index] = { memory: made.memory, duplicate: false, merged: false };
  }
  const changed = new Map<string, Memory>();
  for (const [index, merge] of merges) {
    const input = parsed[index] as ParsedAdd;
    if (merge.into === 'batch') {
      // A near-duplicate of an earlier new item: that item takes its tags.
      const memory = built.get(merge.of) as Memory;
      Object.assign(memory, { tags: mergedInto(memory, input.tags ?? [], memory.updatedAt).tags });
      results[index] = { memory, duplicate: true, merged: true };
      continue;
    }
    const before = changed.get(merge.memory.id) ?? merge.memory;
    const after = mergedInto(before, dedupeTags(input.tags ?? []), visible.now);
    changed.set(after.id, after);
    const actor = target.actor ?? { name: 'engram', source: 'api' };
    history.push({
      ...historyEntry('merge', before, after, actor, visible.now),
      reason: mergeReason(input.content, merge.comparison),
    });
    results[index] = { memory: after, duplicate: true, merged: true };
  }
  // Results of stored merges show the memory as it ends up after every merge of the batch.
  for (const result of results) if (result?.merged) result.memory = changed.get(result.memory.id) ?? result.memory;
  if (records.length > 0 || changed.size > 0) {
    // The store checks again inside its transaction: another process may have stored the same content meanwhile.
    await store.insert(records, history, [...changed.values()], { uniqueAt: visible.now });
  }
  for (const { index, of } of copies) {
    const original = results[of] as AddResult;
    results[index] = { memory: original.memory, duplicate: true, merged: original.merged };
  }
  return { results, created: records.length };
}
