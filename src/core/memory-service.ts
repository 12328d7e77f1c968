import { v7 as uuidv7 } from 'uuid';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { EngramError, invalid, notFound } from './errors.js';
import { decodeCursor, matchesFilter } from './filter.js';
import { contentHash, newId } from './ids.js';
import { KeyedLock } from './keyed-lock.js';
import { type FusionOptions, fuseRanks, type RankedId, singleSignal } from './ranking.js';
import { unfinishedReindex } from './reindex.js';
import {
  type AddMemoryInput,
  addMemorySchema,
  type FilterInput,
  filterSchema,
  type ListInput,
  listSchema,
  parseInput,
  type SearchInput,
  searchSchema,
  type UpdateMemoryInput,
  updateMemorySchema,
  userIdSchema,
} from './schemas.js';
import { queryTerms } from './text.js';
import type {
  CategoryCount,
  HistoryEntry,
  HistoryEvent,
  Memory,
  MemoryRecord,
  MemorySource,
  Page,
  SearchMode,
  SearchResult,
  StoreFilter,
} from './types.js';

/** Who makes a change: recorded in history, and the source of new memories. */
export interface Actor {
  name: string;
  source: MemorySource;
}

export interface SearchOptions extends FusionOptions {
  /** How many candidates each signal contributes before fusion (at least 2 × limit). */
  candidates: number;
}

/** Receives what the service did, e.g. to count it in metrics. Called synchronously; must not throw. */
export interface ServiceObserver {
  added?(source: MemorySource, created: number, duplicates: number): void;
  searched?(mode: SearchMode, seconds: number): void;
}

export interface MemoryServiceOptions {
  store: MemoryStore;
  embedder: Embedder;
  search: SearchOptions;
  clock?: () => Date;
}

export interface AddResult {
  memory: Memory;
  /** True when identical content already existed for this user and nothing new was stored. */
  duplicate: boolean;
}

/** The fields an update may change, in the order `changed` lists them. */
export const UPDATABLE_FIELDS = ['content', 'category', 'tags', 'metadata', 'eventAt', 'expiresAt', 'pinned'] as const;
export type UpdatableField = (typeof UPDATABLE_FIELDS)[number];

export interface UpdateResult {
  /** The memory after the update (unchanged, with its old `updatedAt`, when nothing changed). */
  memory: Memory;
  /** The fields whose values changed; empty when the update asked for the current values. */
  changed: UpdatableField[];
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

export interface SearchResponse {
  results: SearchResult[];
  timings: { embedMs: number; keywordMs: number; vectorMs: number; totalMs: number };
}

type ParsedAdd = ReturnType<typeof addMemorySchema.parse>;

/** What a batch write stores for one new memory: the memory and its history entries. */
interface NewMemory {
  memory: Memory;
  history: HistoryEntry[];
}

/** The one place where memory rules live; every front end is a thin adapter over this class. */
export class MemoryService {
  readonly store: MemoryStore;
  readonly embedder: Embedder;
  readonly #search: SearchOptions;
  readonly #clock: () => Date;
  readonly #writes = new KeyedLock();
  readonly #observers = new Set<ServiceObserver>();

  constructor(options: MemoryServiceOptions) {
    this.store = options.store;
    this.embedder = options.embedder;
    this.#search = options.search;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Opens the store and checks that its vectors come from this embedder. */
  async init(): Promise<void> {
    await this.store.init();
    await this.embedder.init();
    const info = await this.store.getEmbeddingInfo();
    const mine = { model: this.embedder.model, dimension: this.embedder.dimension };
    if (info === null) {
      await this.store.setEmbeddingInfo(mine);
      return;
    }
    const target = unfinishedReindex(info);
    if (target !== null) {
      throw new EngramError(
        'embedding_mismatch',
        `a reindex onto ${target} (${info.dimension}-d) did not finish, so the store holds vectors from two models; ` +
          `run \`engram reindex\` again to finish it (it re-embeds every memory with the configured embedder, now ` +
          `${mine.model})`,
        { details: { store: info, embedder: mine, unfinishedReindex: target } },
      );
    }
    if (info.model !== mine.model || info.dimension !== mine.dimension) {
      throw new EngramError(
        'embedding_mismatch',
        `the store holds vectors from ${info.model} (${info.dimension}-d) but the embedder is ${mine.model} ` +
          `(${mine.dimension}-d); run \`engram reindex\` to re-embed, or configure the original embedder`,
        { details: { store: info, embedder: mine } },
      );
    }
  }

  async close(): Promise<void> {
    await this.embedder.close();
    await this.store.close();
  }

  /** Registers an observer; returns a function that removes it. */
  observe(observer: ServiceObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  now(): string {
    return this.#clock().toISOString();
  }

  async add(userId: string, input: AddMemoryInput, actor: Actor): Promise<AddResult> {
    const [result] = await this.addMany(userId, [input], actor);
    return result as AddResult;
  }

  /** Adds a batch atomically: all valid or nothing stored. Duplicates (also within the batch) are flagged. */
  async addMany(userId: string, inputs: AddMemoryInput[], actor: Actor): Promise<AddResult[]> {
    this.#user(userId);
    const parsed = parseBatch(inputs);
    const supplied = parsed.map((item, index) => {
      if (!item.embedding) return null;
      const vector = this.#vectorOrProblem(item.embedding);
      if (typeof vector === 'string') throw invalid(parsed.length > 1 ? `memories[${index}]: ${vector}` : vector);
      return vector;
    });
    return this.#writes.run(userId, async () => {
      const at = this.now();
      const { results, created } = await this.#insertNew(userId, parsed, supplied, (input, hash) => {
        const memory = buildMemory(userId, input, hash, { id: newId(), createdAt: at, updatedAt: at, source: actor.source });
        return { memory, history: [this.#entry('add', null, memory, actor, at)] };
      });
      for (const observer of this.#observers) observer.added?.(actor.source, created, parsed.length - created);
      return results;
    });
  }

  /**
   * Imports a batch (e.g. from an export file) atomically, with the same rules as `addMany`: content
   * already visible for the user, or earlier in the batch, is a duplicate. New memories keep their
   * creation time (and get a new id at that time) and have source `import`. A usable vector of this
   * store's model is reused; others are embedded. History the items carry is kept but cannot pass
   * for this store's own: each entry names the importing actor and has reason "imported". An item
   * without history gets an `add` entry by the importing actor with reason "import".
   */
  async importBatch(userId: string, items: ImportItem[], actor: Actor): Promise<ImportBatchResult> {
    this.#user(userId);
    if (items.length === 0) return { results: [], history: 0 };
    const parsed = parseBatch(items.map((item) => item.input));
    // A carried vector of another model, dimension, or without a direction is embedded afresh.
    const usable = items.map(({ embedding }) => {
      if (!embedding || embedding.model !== this.embedder.model) return null;
      const vector = this.#vectorOrProblem(embedding.vector);
      return typeof vector === 'string' ? null : vector;
    });
    return this.#writes.run(userId, async () => {
      const at = this.now();
      let kept = 0;
      const { results, created } = await this.#insertNew(userId, parsed, usable, (input, hash, index) => {
        const item = items[index] as ImportItem;
        const createdAt = isoOrNull(item.createdAt) ?? at;
        const memory = buildMemory(userId, input, hash, {
          id: uuidv7({ msecs: Date.parse(createdAt) }),
          createdAt,
          updatedAt: isoOrNull(item.updatedAt) ?? createdAt,
          source: 'import',
        });
        const carried = (item.history ?? []).map((entry) => importedEntry(entry, memory, actor));
        kept += carried.length;
        const history = carried.length > 0 ? carried : [{ ...this.#entry('add', null, memory, actor, at), reason: 'import' }];
        return { memory, history };
      });
      for (const observer of this.#observers) observer.added?.('import', created, parsed.length - created);
      return { results, history: kept };
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
  async #insertNew(
    userId: string,
    parsed: ParsedAdd[],
    supplied: (Float32Array | null)[],
    make: (input: ParsedAdd, hash: string, index: number) => NewMemory,
  ): Promise<{ results: AddResult[]; created: number }> {
    const visible = this.#filter(undefined);
    const everything: StoreFilter = { ...visible, includeExpired: true, includeSuperseded: true };
    const results: AddResult[] = [];
    const fresh: { index: number; input: ParsedAdd; hash: string }[] = [];
    /** The first new item per content hash: among visible items, and among all items. */
    const firstVisible = new Map<string, number>();
    const firstAny = new Map<string, number>();
    const copies: { index: number; of: number }[] = [];
    for (const [index, input] of parsed.entries()) {
      const hash = contentHash(input.content);
      const hidden = input.expiresAt !== undefined && input.expiresAt <= visible.now;
      const earlier = (hidden ? firstAny : firstVisible).get(hash);
      if (earlier !== undefined) {
        copies.push({ index, of: earlier });
        continue;
      }
      const existing = await this.store.findByHash(userId, hash, hidden ? everything : visible);
      if (existing) {
        results[index] = { memory: existing, duplicate: true };
        continue;
      }
      if (!firstAny.has(hash)) firstAny.set(hash, index);
      if (!hidden) firstVisible.set(hash, index);
      fresh.push({ index, input, hash });
    }
    const toEmbed = fresh.filter(({ index }) => supplied[index] === null);
    const embedded = toEmbed.length > 0 ? await this.embedder.embed(toEmbed.map(({ input }) => input.content)) : [];
    const vectors = new Map(toEmbed.map(({ index }, i) => [index, embedded[i] as Float32Array]));
    const records: MemoryRecord[] = [];
    const history: HistoryEntry[] = [];
    for (const { index, input, hash } of fresh) {
      const made = make(input, hash, index);
      records.push({ memory: made.memory, vector: supplied[index] ?? (vectors.get(index) as Float32Array) });
      history.push(...made.history);
      results[index] = { memory: made.memory, duplicate: false };
    }
    if (records.length > 0) await this.store.insert(records, history);
    for (const { index, of } of copies) results[index] = { memory: (results[of] as AddResult).memory, duplicate: true };
    return { results, created: records.length };
  }

  async get(userId: string, id: string): Promise<Memory> {
    this.#user(userId);
    const memory = await this.store.get(userId, id);
    if (!memory) throw notFound('memory', id);
    return memory;
  }

  async list(userId: string, input: ListInput = {}): Promise<Page<Memory>> {
    this.#user(userId);
    const query = parseInput(listSchema, input);
    if (query.cursor !== undefined) decodeCursor(query.cursor);
    return this.store.list(userId, { filter: this.#filter(query.filter), limit: query.limit, cursor: query.cursor });
  }

  /** Changes a memory; see `updateWithChanges`. */
  async update(userId: string, id: string, input: UpdateMemoryInput, actor: Actor): Promise<Memory> {
    return (await this.updateWithChanges(userId, id, input, actor)).memory;
  }

  /**
   * Changes a memory and says which fields changed. Asking for the values it already has is a no-op:
   * nothing is written, no history is added and `updatedAt` stays. New content is re-embedded.
   */
  async updateWithChanges(userId: string, id: string, input: UpdateMemoryInput, actor: Actor): Promise<UpdateResult> {
    this.#user(userId);
    const patch = parseInput(updateMemorySchema, input);
    return this.#writes.run(userId, async () => {
      const before = await this.get(userId, id);
      const proposed: Pick<Memory, UpdatableField> = {
        content: patch.content ?? before.content,
        category: patch.category ?? before.category,
        tags: patch.tags !== undefined ? dedupeTags(patch.tags) : before.tags,
        metadata: patch.metadata ?? before.metadata,
        eventAt: patch.eventAt !== undefined ? patch.eventAt : before.eventAt,
        expiresAt: patch.expiresAt !== undefined ? patch.expiresAt : before.expiresAt,
        pinned: patch.pinned ?? before.pinned,
      };
      const changed = UPDATABLE_FIELDS.filter((field) => !sameJson(before[field], proposed[field]));
      if (changed.length === 0) return { memory: before, changed };
      const after: Memory = { ...before, updatedAt: this.now() };
      for (const field of changed) Object.assign(after, { [field]: proposed[field] });
      after.hash = contentHash(after.content);
      // Dedupe sees visible memories only: check when the content changes or the memory becomes visible again.
      const visible = this.#filter(undefined);
      if (matchesFilter(after, visible) && (after.hash !== before.hash || !matchesFilter(before, visible))) {
        const clash = await this.store.findByHash(userId, after.hash, visible);
        if (clash && clash.id !== id) {
          throw new EngramError('conflict', `memory ${clash.id} already has this content`, {
            details: { existingId: clash.id },
          });
        }
      }
      let vector: Float32Array | null = null;
      if (after.hash !== before.hash) [vector] = (await this.embedder.embed([after.content])) as [Float32Array];
      await this.store.update(after, vector, this.#entry('update', before, after, actor, after.updatedAt));
      return { memory: after, changed };
    });
  }

  async delete(userId: string, id: string, actor: Actor): Promise<Memory> {
    this.#user(userId);
    return this.#writes.run(userId, async () => {
      const before = await this.get(userId, id);
      await this.store.delete(userId, id, this.#entry('delete', before, null, actor, this.now()));
      return before;
    });
  }

  /** The change log of one memory, oldest first; still available after the memory is deleted. */
  async history(userId: string, id: string): Promise<HistoryEntry[]> {
    this.#user(userId);
    const entries = await this.store.history(userId, id);
    if (entries.length === 0) throw notFound('memory', id);
    return entries;
  }

  async categories(userId: string, filter: FilterInput = {}): Promise<CategoryCount[]> {
    this.#user(userId);
    return this.store.categories(userId, this.#filter(parseInput(filterSchema, filter)));
  }

  async search(userId: string, input: SearchInput): Promise<SearchResponse> {
    this.#user(userId);
    const started = performance.now();
    const query = parseInput(searchSchema, input);
    const filter = this.#filter(query.filter);
    const candidates = Math.max(this.#search.candidates, query.limit * 2);
    const timings = { embedMs: 0, keywordMs: 0, vectorMs: 0, totalMs: 0 };

    const terms = query.mode === 'vector' ? [] : queryTerms(query.query);
    const useVector = query.mode !== 'keyword' && query.query.trim().length > 0;
    // The query embedding runs in a worker: start it first so the (synchronous) keyword search overlaps it.
    const vectorPromise = (async () => {
      if (!useVector) return [];
      let t = performance.now();
      const [vector] = (await this.embedder.embed([query.query])) as [Float32Array];
      timings.embedMs = performance.now() - t;
      t = performance.now();
      const hits = await this.store.vectorSearch(userId, vector, filter, candidates);
      timings.vectorMs = performance.now() - t;
      return hits;
    })();
    const keywordPromise = (async () => {
      if (terms.length === 0) return [];
      // Let the embedding request reach its worker before the store call blocks this thread.
      if (useVector) await new Promise((resolve) => setImmediate(resolve));
      const t = performance.now();
      const hits = await this.store.keywordSearch(userId, terms, filter, candidates);
      timings.keywordMs = performance.now() - t;
      return hits;
    })();
    const [keywordHits, vectorHits] = await Promise.all([keywordPromise, vectorPromise]);

    let ranked: RankedId[];
    if (query.mode === 'hybrid') ranked = fuseRanks(keywordHits, vectorHits, this.#search);
    else if (query.mode === 'keyword') ranked = singleSignal('keyword', keywordHits);
    else ranked = singleSignal('vector', vectorHits);

    const top = ranked.slice(0, query.limit);
    const memories = new Map((await this.store.getMany(userId, top.map((r) => r.id))).map((m) => [m.id, m]));
    const results: SearchResult[] = [];
    for (const item of top) {
      const memory = memories.get(item.id);
      if (memory) results.push({ memory, score: item.score, explanation: item.explanation });
    }
    timings.totalMs = performance.now() - started;
    for (const observer of this.#observers) observer.searched?.(query.mode, timings.totalMs / 1000);
    return { results, timings };
  }

  /** Right to erasure: removes the user's memories, vectors and history. */
  async purgeUser(userId: string): Promise<number> {
    this.#user(userId);
    return this.#writes.run(userId, () => this.store.purgeUser(userId));
  }

  #user(userId: string): void {
    const result = userIdSchema.safeParse(userId);
    if (!result.success) throw invalid(`user id ${JSON.stringify(userId)} is not valid: ${result.error.issues[0]?.message}`);
  }

  #filter(filter: FilterInput | undefined): StoreFilter {
    return { ...filter, now: this.now() };
  }

  /** A unit-length float32 copy of `values`, or why it cannot be an embedding in this store. */
  #vectorOrProblem(values: ArrayLike<number>): Float32Array | string {
    if (values.length !== this.embedder.dimension) {
      return `embedding has ${values.length} dimensions; this store uses ${this.embedder.dimension}`;
    }
    const vector = Float32Array.from(values);
    let sum = 0;
    for (const value of vector) sum += value * value;
    if (!Number.isFinite(sum)) return 'embedding values must be finite numbers within float32 range';
    // A zero vector has no direction: cosine similarity is undefined for it, so it could never match.
    if (sum === 0) return 'embedding is all zeros (or too small for float32); it has no direction to compare';
    const norm = Math.sqrt(sum);
    for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
    return vector;
  }

  #entry(event: HistoryEvent, before: Memory | null, after: Memory | null, actor: Actor, at: string): HistoryEntry {
    const memory = (after ?? before) as Memory;
    return { id: newId(), memoryId: memory.id, userId: memory.userId, event, before, after, actor: actor.name, at, reason: null };
  }
}

function dedupeTags(tags: string[]): string[] {
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
}

/** Parses a batch of add inputs; an error names the item when there are several. */
function parseBatch(inputs: AddMemoryInput[]): ParsedAdd[] {
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

/** A carried history entry re-homed onto `memory`, marked so it cannot pass for this store's own record. */
function importedEntry(entry: HistoryEntry, memory: Memory, actor: Actor): HistoryEntry {
  const rehome = (snapshot: Memory | null): Memory | null =>
    snapshot === null ? null : { ...snapshot, id: memory.id, userId: memory.userId };
  return {
    ...entry,
    id: newId(),
    memoryId: memory.id,
    userId: memory.userId,
    before: rehome(entry.before),
    after: rehome(entry.after),
    actor: `${entry.actor} (imported by ${actor.name})`,
    reason: 'imported',
  };
}

/** An ISO-8601 instant in `toISOString` form, or null when `value` is not a date. */
function isoOrNull(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Deep equality of JSON values; object key order does not matter, array order does. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
  );
}
