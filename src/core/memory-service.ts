import type { Embedder } from '../embed/embedder.js';
import { normalise } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { EngramError, invalid, notFound } from './errors.js';
import { decodeCursor } from './filter.js';
import { contentHash, newId } from './ids.js';
import { KeyedLock } from './keyed-lock.js';
import { type FusionOptions, fuseRanks, type RankedId, singleSignal } from './ranking.js';
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

export interface SearchResponse {
  results: SearchResult[];
  timings: { embedMs: number; keywordMs: number; vectorMs: number; totalMs: number };
}

type ParsedAdd = ReturnType<typeof addMemorySchema.parse>;

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
    } else if (info.model !== mine.model || info.dimension !== mine.dimension) {
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
    const parsed = inputs.map((input, index) => {
      try {
        return parseInput(addMemorySchema, input);
      } catch (error) {
        if (inputs.length > 1 && error instanceof EngramError) {
          throw new EngramError(error.code, `memories[${index}]: ${error.message}`, { details: error.details ?? {} });
        }
        throw error;
      }
    });
    const supplied = parsed.map((item) => (item.embedding ? this.#checkVector(item.embedding) : null));
    return this.#writes.run(userId, async () => {
      const results: (AddResult | null)[] = [];
      const fresh: { index: number; input: ParsedAdd; hash: string }[] = [];
      const seenInBatch = new Map<string, number>();
      for (const [index, input] of parsed.entries()) {
        const hash = contentHash(input.content);
        const existing = await this.store.findByHash(userId, hash);
        if (existing) {
          results.push({ memory: existing, duplicate: true });
        } else if (seenInBatch.has(hash)) {
          results.push(null); // resolved below to the batch's first copy
        } else {
          seenInBatch.set(hash, index);
          fresh.push({ index, input, hash });
          results.push(null);
        }
      }
      const toEmbed = fresh.filter(({ index }) => supplied[index] === null);
      const embedded = await this.embedder.embed(toEmbed.map(({ input }) => input.content));
      const vectors = new Map(toEmbed.map(({ index }, i) => [index, embedded[i] as Float32Array]));
      const at = this.now();
      const records: MemoryRecord[] = [];
      const history: HistoryEntry[] = [];
      for (const { index, input, hash } of fresh) {
        const memory: Memory = {
          id: newId(),
          userId,
          agentId: input.agentId ?? null,
          sessionId: input.sessionId ?? null,
          content: input.content,
          category: input.category ?? 'general',
          tags: dedupeTags(input.tags ?? []),
          metadata: input.metadata ?? {},
          createdAt: at,
          updatedAt: at,
          eventAt: input.eventAt ?? null,
          expiresAt: input.expiresAt ?? null,
          pinned: input.pinned ?? false,
          source: actor.source,
          hash,
          supersededBy: null,
          validTo: null,
        };
        records.push({ memory, vector: supplied[index] ?? (vectors.get(index) as Float32Array) });
        history.push(this.#entry('add', null, memory, actor, at));
        results[index] = { memory, duplicate: false };
      }
      if (records.length > 0) await this.store.insert(records, history);
      for (const observer of this.#observers) observer.added?.(actor.source, records.length, parsed.length - records.length);
      return results.map((result, index) => {
        if (result) return result;
        const first = seenInBatch.get(contentHash(parsed[index]?.content ?? '')) as number;
        return { memory: (results[first] as AddResult).memory, duplicate: true };
      });
    });
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

  async update(userId: string, id: string, input: UpdateMemoryInput, actor: Actor): Promise<Memory> {
    this.#user(userId);
    const patch = parseInput(updateMemorySchema, input);
    return this.#writes.run(userId, async () => {
      const before = await this.get(userId, id);
      const after: Memory = {
        ...before,
        ...(patch.content !== undefined && { content: patch.content, hash: contentHash(patch.content) }),
        ...(patch.category !== undefined && { category: patch.category }),
        ...(patch.tags !== undefined && { tags: dedupeTags(patch.tags) }),
        ...(patch.metadata !== undefined && { metadata: patch.metadata }),
        ...(patch.eventAt !== undefined && { eventAt: patch.eventAt }),
        ...(patch.expiresAt !== undefined && { expiresAt: patch.expiresAt }),
        ...(patch.pinned !== undefined && { pinned: patch.pinned }),
        updatedAt: this.now(),
      };
      let vector: Float32Array | null = null;
      if (after.hash !== before.hash) {
        const clash = await this.store.findByHash(userId, after.hash);
        if (clash && clash.id !== id) {
          throw new EngramError('conflict', `memory ${clash.id} already has this content`, {
            details: { existingId: clash.id },
          });
        }
        [vector] = (await this.embedder.embed([after.content])) as [Float32Array];
      }
      await this.store.update(after, vector, this.#entry('update', before, after, actor, after.updatedAt));
      return after;
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

  #checkVector(values: number[]): Float32Array {
    if (values.length !== this.embedder.dimension) {
      throw invalid(`embedding has ${values.length} dimensions; this store uses ${this.embedder.dimension}`);
    }
    if (!values.every(Number.isFinite)) throw invalid('embedding values must be finite numbers');
    return normalise(Float32Array.from(values));
  }

  #entry(event: HistoryEvent, before: Memory | null, after: Memory | null, actor: Actor, at: string): HistoryEntry {
    const memory = (after ?? before) as Memory;
    return { id: newId(), memoryId: memory.id, userId: memory.userId, event, before, after, actor: actor.name, at, reason: null };
  }
}

function dedupeTags(tags: string[]): string[] {
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
}
