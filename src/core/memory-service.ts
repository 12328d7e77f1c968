import type { z } from 'zod';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { AccessTracker } from './access.js';
import type { Inferrer } from './consolidate.js';
import { invalid, notFound } from './errors.js';
import { sweepExpired } from './expiry.js';
import { decodeCursor } from './filter.js';
import { type Actor, historyEntry } from './history.js';
import { addInferred, type ExtractResult, extractFacts, type InferenceContext } from './inference.js';
import {
  type AddResult,
  embedAhead,
  type ImportBatchResult,
  type ImportItem,
  type InsertTarget,
  insertNew,
  type ParsedAdd,
  parseBatch,
} from './insert.js';
import { KeyedLock } from './keyed-lock.js';
import { addedMemory, importedMemory } from './new-memory.js';
import { assertNotNoteSection } from './note-sections.js';
import { checkEmbeddingInfo } from './reindex.js';
import { listDeleted, restoreDeleted } from './restore.js';
import {
  type AddMemoryInput,
  type DeletedListInput,
  type DeletedMemory,
  type ExtractInput,
  extractSchema,
  type FilterInput,
  filterSchema,
  type ListInput,
  listSchema,
  parseInput,
  type SearchInput,
  searchSchema,
  statsDaysSchema,
  type UpdateMemoryInput,
  updateMemorySchema,
} from './schemas.js';
import { checkUserId, storeFilter } from './scope.js';
import { nearestInScope, type SearchOptions, type SearchResponse, searchMemories } from './search.js';
import {
  DEFAULT_MAINTENANCE,
  type EraseOptions,
  type MaintenanceOptions,
  type MemoryServiceOptions,
  type ServiceObserver,
} from './service-options.js';
import { type UserStats, userStats } from './stats.js';
import type { CategoryCount, HistoryEntry, Memory, Page, StoreFilter } from './types.js';
import { applyChanges, assertNoClash, changedFields, proposedFields, type UpdateResult } from './update.js';
import { carriedVectors, suppliedVectors } from './vectors.js';

export type { Decision, Inferrer, PlanProblem } from './consolidate.js';
export type { Actor } from './history.js';
export type { ExtractResult } from './inference.js';
export type { AddResult, ImportBatchResult, ImportItem, ParsedAdd } from './insert.js';
export type { SearchOptions, SearchResponse } from './search.js';
export type { EraseOptions, MaintenanceOptions, MemoryServiceOptions, ServiceObserver } from './service-options.js';
export { UPDATABLE_FIELDS, type UpdatableField, type UpdateResult } from './update.js';

/**
 * The one place where memory rules live; every front end is a thin adapter over this class. Near
 * 400 lines on purpose: it lists every operation (check the user, take the write lock, tell the
 * observers) and leaves the rules to the module each names (insert.ts, inference.ts, update.ts, …).
 */
export class MemoryService {
  readonly store: MemoryStore;
  readonly embedder: Embedder;
  readonly #search: SearchOptions;
  readonly #clock: () => Date;
  readonly #writes = new KeyedLock();
  readonly #observers = new Set<ServiceObserver>();
  readonly #maintenance: MaintenanceOptions;
  readonly #access: AccessTracker | null;
  readonly inferrer: Inferrer | null;

  constructor(options: MemoryServiceOptions) {
    this.store = options.store;
    this.embedder = options.embedder;
    this.#search = options.search;
    this.#clock = options.clock ?? (() => new Date());
    this.#maintenance = options.maintenance ?? DEFAULT_MAINTENANCE;
    this.inferrer = options.inferrer ?? null;
    this.#access = this.#maintenance.trackAccess
      ? new AccessTracker({ store: this.store, flushMs: this.#maintenance.accessFlushMs, clock: () => this.now() })
      : null;
  }

  /** Opens the store and checks that its vectors come from this embedder. */
  async init(): Promise<void> {
    await this.store.init();
    await this.embedder.init();
    await checkEmbeddingInfo(this.store, this.embedder);
  }

  async close(): Promise<void> {
    await this.#access?.close();
    await this.embedder.close();
    await this.store.close();
  }

  /** Writes the read counts gathered so far (they are otherwise written every few seconds). */
  async flushAccess(): Promise<void> {
    await this.#access?.flush();
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

  /**
   * Adds a batch atomically: all valid or nothing stored. Duplicates (also within the batch) are
   * flagged; with a `dedupeNamespace`, only memories added with the same namespace count (insert.ts).
   */
  async addMany(
    userId: string,
    inputs: AddMemoryInput[],
    actor: Actor,
    options: { dedupeNamespace?: string } = {},
  ): Promise<AddResult[]> {
    checkUserId(userId);
    const parsed = parseBatch(inputs);
    for (const input of parsed) input.infer ??= this.#maintenance.inferDefault;
    const supplied = suppliedVectors(parsed, this.embedder.dimension);
    if (this.inferrer && this.#maintenance.extractOnAdd && parsed.some((input) => input.infer))
      return addInferred(this.#inference(this.inferrer), userId, parsed, actor);
    const namespace = options.dedupeNamespace;
    await embedAhead({ ...this.#insertTarget(userId), dedupeNamespace: namespace }, parsed, supplied);
    return this.#writes.run(userId, async () => {
      const at = this.now();
      const target: InsertTarget = {
        ...this.#insertTarget(userId),
        dedupeNamespace: namespace,
        nearDuplicates: this.#maintenance.nearDuplicates ?? undefined,
        actor,
      };
      const { results, created } = await insertNew(target, parsed, supplied, (input, hash) =>
        addedMemory(userId, input, hash, actor, at),
      );
      for (const observer of this.#observers) observer.added?.(actor.source, created, parsed.length - created);
      return results;
    });
  }

  /**
   * Extracts the facts worth remembering from a conversation with the LLM and consolidates them
   * with the user's memories: each is added, supersedes (updates) a current memory, or is already
   * known (noop), with the model's reason in history. Refused without an LLM; an unusable reply
   * from the model is an `llm_output_invalid` error and stores nothing (inference.ts).
   */
  async extract(userId: string, input: ExtractInput, actor: Actor): Promise<ExtractResult> {
    const { messages, ...defaults } = this.validateExtract(userId, input);
    return extractFacts(this.#inference(this.inferrer as Inferrer), userId, messages, defaults, actor);
  }

  /** Checks an extraction as `extract` would before calling the model (for one accepted as a job); returns it parsed. */
  validateExtract(userId: string, input: ExtractInput): z.output<typeof extractSchema> {
    checkUserId(userId);
    const parsed = parseInput(extractSchema, input);
    if (!this.inferrer) throw invalid('extraction needs an LLM: set ENGRAM_LLM_PROVIDER (see docs/llm.md)');
    return parsed;
  }

  /** What the LLM path (inference.ts) needs of this service. */
  #inference(inferrer: Inferrer): InferenceContext {
    return {
      inferrer,
      embedder: this.embedder,
      now: () => this.now(),
      target: (userId) => this.#insertTarget(userId),
      locked: (userId, work) => this.#writes.run(userId, work),
      nearest: (userId, agentId, text, limit) =>
        nearestInScope(this.store, this.embedder, this.#search, {
          userId,
          agentId,
          text,
          limit,
          filter: this.#visible(agentId === null ? undefined : { agentId }),
        }),
      decided: (actor, decisions) => {
        const created = decisions.filter((d) => d.action !== 'noop').length;
        for (const observer of this.#observers) {
          observer.added?.(actor.source, created, decisions.length - created);
          observer.decided?.(decisions);
        }
      },
    };
  }

  /**
   * Checks a batch exactly as `addMany` would before storing anything (user id, each item, supplied
   * embeddings), throwing the same errors; returns the parsed items. For work accepted now and
   * added later (an asynchronous add), so that it is refused up front when a synchronous add would be.
   */
  validateAdd(userId: string, inputs: AddMemoryInput[]): ParsedAdd[] {
    checkUserId(userId);
    const parsed = parseBatch(inputs);
    suppliedVectors(parsed, this.embedder.dimension);
    return parsed;
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
    checkUserId(userId);
    if (items.length === 0) return { results: [], history: 0 };
    const parsed = parseBatch(items.map((item) => item.input));
    const usable = carriedVectors(items, this.embedder);
    return this.#writes.run(userId, async () => {
      const at = this.now();
      let kept = 0;
      const { results, created } = await insertNew(this.#insertTarget(userId), parsed, usable, (input, hash, index) => {
        const made = importedMemory(userId, items[index] as ImportItem, input, hash, actor, at);
        kept += made.carried;
        return made;
      });
      for (const observer of this.#observers) observer.added?.('import', created, parsed.length - created);
      return { results, history: kept };
    });
  }

  async get(userId: string, id: string): Promise<Memory> {
    checkUserId(userId);
    const memory = await this.#existing(userId, id);
    this.#access?.record(userId, [memory.id]);
    return memory;
  }

  async #existing(userId: string, id: string): Promise<Memory> {
    const memory = await this.store.get(userId, id);
    if (!memory) throw notFound('memory', id);
    return memory;
  }

  async list(userId: string, input: ListInput = {}): Promise<Page<Memory>> {
    checkUserId(userId);
    const query = parseInput(listSchema, input);
    if (query.cursor !== undefined) decodeCursor(query.cursor);
    return this.store.list(userId, { filter: this.#visible(query.filter), limit: query.limit, cursor: query.cursor });
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
    checkUserId(userId);
    const patch = parseInput(updateMemorySchema, input);
    return this.#writes.run(userId, async () => {
      const before = await this.#existing(userId, id);
      const proposed = proposedFields(before, patch);
      const changed = changedFields(before, proposed);
      if (changed.length === 0) return { memory: before, changed };
      const after = applyChanges(before, proposed, changed, this.now());
      await assertNoClash(this.store, userId, before, after, this.#visible(undefined));
      let vector: Float32Array | null = null;
      if (after.hash !== before.hash)
        [vector] = (await this.embedder.embed([after.content], { scope: userId })) as [Float32Array];
      await this.store.update(after, vector, historyEntry('update', before, after, actor, after.updatedAt));
      return { memory: after, changed };
    });
  }

  /**
   * Deletes a memory (undoably: `restore`). A knowledge-base note's section is refused (`conflict`)
   * unless the knowledge base drops its own index (`options.noteIndex`; note-sections.ts).
   */
  async delete(userId: string, id: string, actor: Actor, options: EraseOptions = {}): Promise<Memory> {
    checkUserId(userId);
    return this.#writes.run(userId, async () => {
      const before = await this.#existing(userId, id);
      if (!options.noteIndex) assertNotNoteSection(before, 'deleted');
      await this.store.delete(userId, id, historyEntry('delete', before, null, actor, this.now()));
      return before;
    });
  }

  /** Brings a deleted memory back as it was before its deletion (restore.ts). */
  async restore(userId: string, id: string, actor: Actor): Promise<Memory> {
    checkUserId(userId);
    return this.#writes.run(userId, () =>
      restoreDeleted(this, { userId, id, actor, now: this.now(), visible: this.#visible(undefined) }),
    );
  }

  /**
   * Erases a memory for good, whether it is current or already deleted: the memory, its vector
   * and its whole history go, so it can be neither listed nor restored, and so do the finished
   * jobs whose result quotes it. `not_found` when nothing of it is stored. A current
   * knowledge-base note's section is refused like a delete (`conflict`), unless `options.noteIndex`.
   */
  async forget(userId: string, id: string, options: EraseOptions = {}): Promise<void> {
    checkUserId(userId);
    await this.#writes.run(userId, async () => {
      const current = options.noteIndex ? null : await this.store.get(userId, id);
      if (current) assertNotNoteSection(current, 'forgotten');
      if (!(await this.store.forget(userId, id))) throw notFound('memory', id);
    });
  }

  /** The deleted memories `restore` can bring back, most recently deleted first (restore.ts). */
  async deleted(userId: string, input: DeletedListInput = {}): Promise<Page<DeletedMemory>> {
    checkUserId(userId);
    return listDeleted(this.store, userId, input);
  }

  /** The change log of one memory, oldest first; still available after the memory is deleted. */
  async history(userId: string, id: string): Promise<HistoryEntry[]> {
    checkUserId(userId);
    const entries = await this.store.history(userId, id);
    if (entries.length === 0) throw notFound('memory', id);
    return entries;
  }

  /** Counts per category and added per UTC day over the last `days` days, today included (stats.ts). */
  async stats(userId: string, days: number): Promise<UserStats> {
    checkUserId(userId);
    const window = parseInput(statsDaysSchema, days);
    return userStats(this.store, userId, this.#visible(undefined), window);
  }

  async categories(userId: string, filter: FilterInput = {}): Promise<CategoryCount[]> {
    checkUserId(userId);
    return this.store.categories(userId, this.#visible(parseInput(filterSchema, filter)));
  }

  async search(userId: string, input: SearchInput): Promise<SearchResponse> {
    checkUserId(userId);
    const startedAt = performance.now();
    const query = parseInput(searchSchema, input);
    const filter = this.#visible(query.filter);
    const response = await searchMemories(this.store, this.embedder, this.#search, {
      userId,
      query,
      filter,
      startedAt,
    });
    for (const observer of this.#observers) observer.searched?.(query.mode, response.timings.totalMs / 1000);
    this.#access?.record(
      userId,
      response.results.map((result) => result.memory.id),
    );
    return response;
  }

  /**
   * Deletes memories whose `expiresAt` has passed (they are already hidden from every view), each
   * with a `delete` history entry by the sweeper. Returns how many went (expiry.ts).
   */
  async sweepExpired(batch = 500): Promise<number> {
    return sweepExpired(
      { store: this.store, now: () => this.now(), locked: (userId, work) => this.#writes.run(userId, work) },
      batch,
    );
  }

  /** Right to erasure: removes the user's memories, vectors and history. */
  async purgeUser(userId: string): Promise<number> {
    checkUserId(userId);
    return this.#writes.run(userId, () => this.store.purgeUser(userId));
  }

  /** What a call sees: `filter` as of now, or as of its `asOf` (scope.ts). */
  #visible(filter: FilterInput | undefined): StoreFilter {
    return storeFilter(filter, this.now());
  }

  #insertTarget(userId: string): InsertTarget {
    return { store: this.store, embedder: this.embedder, userId, visible: this.#visible(undefined) };
  }
}
