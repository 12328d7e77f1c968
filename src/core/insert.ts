import { v7 as uuidv7 } from 'uuid';
import type { z } from 'zod';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { EngramError } from './errors.js';
import { type Actor, historyEntry, importedEntry } from './history.js';
import { contentHash, newId } from './ids.js';
import { type AddMemoryInput, addMemorySchema, parseInput } from './schemas.js';
import type { HistoryEntry, Memory, MemoryRecord, MemorySource, StoreFilter } from './types.js';

export interface AddResult {
  memory: Memory;
  /** True when identical content already existed for this user and nothing new was stored. */
  duplicate: boolean;
}

/** One memory of an import (e.g. a line of an export file), already mapped to add-style fields. */
export interface ImportItem {
  input: Omit<AddMemoryInput, 'embedding'>;
  /** When the memory was first stored; the new id is time-ordered at this instant. Now when missing or invalid. */
  createdAt?: string | null | undefined;
  updatedAt?: string | null | undefined;
  /** A vector that came with the item; reused only when it is from this store's model and usable. */
  embedding?: { model: string; vector: Float32Array } | null | undefined;
  /** History the item carried. Kept, but re-homed onto the new memory and marked as imported. */
  history?: HistoryEntry[] | undefined;
}

export interface ImportBatchResult {
  /** One per item, in order; duplicates point at the memory that was already there (or earlier in the batch). */
  results: AddResult[];
  /** How many carried history entries were kept. */
  history: number;
}

export type ParsedAdd = z.output<typeof addMemorySchema>;

/** What a batch write stores for one new memory: the memory and its history entries. */
export interface NewMemory {
  memory: Memory;
  history: HistoryEntry[];
}

export interface InsertTarget {
  store: MemoryStore;
  embedder: Embedder;
  userId: string;
  /** What the user can see now: dedupe matches against it. */
  visible: StoreFilter;
}

/** Parses a batch of add inputs; an error names the item when there are several. */
export function parseBatch(inputs: AddMemoryInput[]): ParsedAdd[] {
  return inputs.map((input, index) => {
    try {
      return parseInput(addMemorySchema, input);
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
    const hash = contentHash(input.content);
    if (supplied[index] === null && !first.has(hash)) first.set(hash, index);
  }
  if (first.size === 0) return;
  const stored = await store.findByHashes(userId, [...first.keys()], visible);
  const todo = [...first].filter(([hash]) => !stored.has(hash)).map(([, index]) => index);
  if (todo.length === 0) return;
  const vectors = await embedder.embed(todo.map((index) => (parsed[index] as ParsedAdd).content));
  todo.forEach((index, i) => {
    supplied[index] = vectors[i] as Float32Array;
  });
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
export async function insertNew(
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
  const hashes = parsed.map((input) => contentHash(input.content));
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
      results[index] = { memory: existing, duplicate: true };
      continue;
    }
    if (!firstAny.has(hash)) firstAny.set(hash, index);
    if (!hidden) firstVisible.set(hash, index);
    fresh.push({ index, input, hash });
  }
  const toEmbed = fresh.filter(({ index }) => supplied[index] === null);
  const embedded = toEmbed.length > 0 ? await embedder.embed(toEmbed.map(({ input }) => input.content)) : [];
  const vectors = new Map(toEmbed.map(({ index }, i) => [index, embedded[i] as Float32Array]));
  const records: MemoryRecord[] = [];
  const history: HistoryEntry[] = [];
  for (const { index, input, hash } of fresh) {
    const made = make(input, hash, index);
    records.push({ memory: made.memory, vector: supplied[index] ?? (vectors.get(index) as Float32Array) });
    history.push(...made.history);
    results[index] = { memory: made.memory, duplicate: false };
  }
  if (records.length > 0) await store.insert(records, history);
  for (const { index, of } of copies) results[index] = { memory: (results[of] as AddResult).memory, duplicate: true };
  return { results, created: records.length };
}

export function addedMemory(userId: string, input: ParsedAdd, hash: string, actor: Actor, at: string): NewMemory {
  const memory = buildMemory(userId, input, hash, { id: newId(), createdAt: at, updatedAt: at, source: actor.source });
  return { memory, history: [historyEntry('add', null, memory, actor, at)] };
}

/** See `MemoryService.importBatch` for the rules; `carried` counts the history entries kept. */
export function importedMemory(
  userId: string,
  item: ImportItem,
  input: ParsedAdd,
  hash: string,
  actor: Actor,
  at: string,
): NewMemory & { carried: number } {
  const createdAt = isoOrNull(item.createdAt) ?? at;
  const memory = buildMemory(userId, input, hash, {
    id: uuidv7({ msecs: Date.parse(createdAt) }),
    createdAt,
    updatedAt: isoOrNull(item.updatedAt) ?? createdAt,
    source: 'import',
  });
  const carried = (item.history ?? []).map((entry) => importedEntry(entry, memory, actor));
  const history =
    carried.length > 0 ? carried : [{ ...historyEntry('add', null, memory, actor, at), reason: 'import' }];
  return { memory, history, carried: carried.length };
}

/** The one builder of new memories, for add and import alike. */
function buildMemory(
  userId: string,
  input: ParsedAdd,
  hash: string,
  origin: { id: string; createdAt: string; updatedAt: string; source: MemorySource },
): Memory {
  return {
    id: origin.id,
    userId,
    agentId: input.agentId ?? null,
    sessionId: input.sessionId ?? null,
    content: input.content,
    category: input.category ?? 'general',
    tags: dedupeTags(input.tags ?? []),
    metadata: input.metadata ?? {},
    createdAt: origin.createdAt,
    updatedAt: origin.updatedAt,
    eventAt: input.eventAt ?? null,
    expiresAt: input.expiresAt ?? null,
    pinned: input.pinned ?? false,
    source: origin.source,
    hash,
    supersededBy: null,
    validTo: null,
  };
}

export function dedupeTags(tags: string[]): string[] {
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
}

/** An ISO-8601 instant in `toISOString` form, or null when `value` is not a date. */
function isoOrNull(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
