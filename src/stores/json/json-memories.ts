import { type Neighbours, neighboursAmong } from '../../core/conversation-context.js';
import { EngramError, invalid, notFound } from '../../core/errors.js';
import { decodeCursor, encodeCursor, matchesFilter } from '../../core/filter.js';
import type {
  CategoryCount,
  DayCount,
  HistoryEntry,
  Memory,
  MemoryRecord,
  Page,
  StoreFilter,
} from '../../core/types.js';
import { resultNames } from '../jobs-columns.js';
import {
  duplicateContent,
  type InsertOptions,
  type ListOptions,
  type MemoryRecords,
  uniqueCandidates,
} from '../store.js';
import { ascending } from './json-cache.js';
import { byString, cloneEntry, cloneMemory, type JsonData, visible } from './json-data.js';
import { byId, type UserData } from './json-format.js';
import { categoryCounts, dayCounts, newestFirst } from './json-search.js';

/**
 * The JSON store's memories (`MemoryRecords`): each user's in their own file, every change a
 * read-modify-write of that whole file under its lock.
 */
export class JsonMemories implements MemoryRecords {
  readonly #data: JsonData;

  constructor(data: JsonData) {
    this.#data = data;
  }

  async insert(
    records: MemoryRecord[],
    history: HistoryEntry[],
    changed: Memory[] = [],
    options: InsertOptions = {},
  ): Promise<void> {
    if (records.length === 0 && history.length === 0 && changed.length === 0) return;
    const userId = singleUser(records, history, changed);
    const unique = uniqueCandidates(records, options.uniqueAt);
    return this.#data.mutate(userId, (data) => {
      // Under the user's file lock, on the file as it is now: another process's add of the same content shows here.
      if (unique.length > 0) {
        const at = options.uniqueAt as string;
        const wanted = new Set(unique.map((memory) => memory.hash));
        const copies = new Set<string>();
        for (const memory of data.memories.values()) {
          const visible = memory.supersededBy === null && (memory.expiresAt === null || memory.expiresAt > at);
          if (visible && wanted.has(memory.hash)) copies.add(memory.hash);
        }
        if (copies.size > 0) throw duplicateContent([...copies]);
      }
      for (const memory of changed) replaceMemory(data, memory);
      const seen = new Set<string>();
      for (const { memory } of records) {
        if (data.memories.has(memory.id) || seen.has(memory.id)) {
          throw new EngramError('conflict', `memory ${memory.id} already exists`, { details: { id: memory.id } });
        }
        seen.add(memory.id);
      }
      for (const { memory, vector } of records) {
        data.memories.set(memory.id, cloneMemory(memory));
        data.vectors.set(memory.id, Float32Array.from(vector));
      }
      data.history.push(...history.map(cloneEntry));
      return { result: undefined, changed: true };
    });
  }

  async get(userId: string, id: string): Promise<Memory | null> {
    return this.#data.read(userId, (snapshot) => {
      const memory = snapshot.data.memories.get(id);
      return memory ? cloneMemory(memory) : null;
    });
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    return this.#data.read(userId, (snapshot) => {
      const found: Memory[] = [];
      for (const id of new Set(ids)) {
        const memory = snapshot.data.memories.get(id);
        if (memory) found.push(cloneMemory(memory));
      }
      return found;
    });
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    return this.#data.read(userId, (snapshot) => {
      const memory = ascending(snapshot).find(
        (candidate) => candidate.hash === hash && matchesFilter(candidate, filter),
      );
      return memory ? cloneMemory(memory) : null;
    });
  }

  async findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>> {
    if (hashes.length === 0) return new Map();
    const wanted = new Set(hashes);
    return this.#data.read(userId, (snapshot) => {
      const found = new Map<string, Memory>();
      for (const memory of ascending(snapshot)) {
        if (wanted.has(memory.hash) && !found.has(memory.hash) && matchesFilter(memory, filter)) {
          found.set(memory.hash, cloneMemory(memory));
        }
      }
      return found;
    });
  }

  async list(userId: string, options: ListOptions): Promise<Page<Memory>> {
    const before = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const limit = Math.max(0, Math.floor(options.limit));
    return this.#data.read(userId, (snapshot) => {
      const { items, more } = newestFirst(ascending(snapshot), options.filter, before, limit);
      const last = items.at(-1);
      return { items: items.map(cloneMemory), nextCursor: more && last ? encodeCursor(last.id) : null };
    });
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    checkEntry(history, memory.userId, memory.id);
    return this.#data.mutate(memory.userId, (data) => {
      replaceMemory(data, memory);
      if (vector) data.vectors.set(memory.id, Float32Array.from(vector));
      data.history.push(cloneEntry(history));
      return { result: undefined, changed: true };
    });
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    checkEntry(history, userId, id);
    return this.#data.mutate(userId, (data) => {
      if (!data.memories.delete(id)) return { result: false, changed: false };
      data.vectors.delete(id);
      data.history.push(cloneEntry(history));
      return { result: true, changed: true };
    });
  }

  async forget(userId: string, id: string): Promise<boolean> {
    const erased = await this.#data.mutate(userId, (data) => {
      const memory = data.memories.delete(id);
      data.vectors.delete(id);
      let kept = 0;
      for (const entry of data.history) if (entry.memoryId !== id) data.history[kept++] = entry;
      const history = data.history.length - kept;
      data.history.length = kept;
      return memory || history > 0 ? { result: true, changed: true } : { result: false, changed: false };
    });
    // The jobs are in a file of their own: a second write, after the user's.
    await this.#data.mutateJobs((jobs) => {
      const kept = jobs.filter((job) => job.userId !== userId || !resultNames(job.result, id));
      return { result: undefined, changed: kept.length !== jobs.length, jobs: kept };
    });
    return erased;
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    return this.#data.mutate(userId, (data) => {
      let changed = false;
      for (const [id, count] of accesses) {
        const memory = data.memories.get(id);
        if (!memory) continue;
        const lastAccessedAt =
          memory.lastAccessedAt === null || memory.lastAccessedAt < at ? at : memory.lastAccessedAt;
        data.memories.set(id, { ...memory, accessCount: memory.accessCount + count, lastAccessedAt });
        changed = true;
      }
      return { result: undefined, changed };
    });
  }

  async neighbours(
    userId: string,
    ids: string[],
    window: number,
    filter: StoreFilter,
  ): Promise<Map<string, Neighbours>> {
    if (ids.length === 0 || window < 1) return new Map();
    return this.#data.read(userId, (snapshot) => neighboursAmong(visible(snapshot, filter), ids, window));
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    return this.#data.read(userId, (snapshot) => categoryCounts(visible(snapshot, filter)));
  }

  async addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]> {
    return this.#data.read(userId, (snapshot) => dayCounts(visible(snapshot, filter)));
  }

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    const found: { userId: string; id: string; expiresAt: string }[] = [];
    for (const userId of await this.#data.track(() => this.#data.userIds())) {
      const memories = await this.#data.read(userId, (snapshot) => [...snapshot.data.memories.values()]);
      for (const memory of memories) {
        if (memory.expiresAt !== null && memory.expiresAt <= now) {
          found.push({ userId, id: memory.id, expiresAt: memory.expiresAt });
        }
      }
    }
    found.sort((a, b) => byString(a.expiresAt, b.expiresAt) || byString(a.id, b.id));
    return found.slice(0, limit).map(({ userId, id }) => ({ userId, id }));
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    const userIds = userId === undefined ? await this.#data.track(() => this.#data.userIds()) : [userId];
    const found: { memory: Memory; vector: Float32Array }[] = [];
    for (const id of userIds) {
      const snapshot = await this.#data.read(id, (current) => current);
      for (const memory of ascending(snapshot)) {
        found.push({ memory, vector: snapshot.data.vectors.get(memory.id) ?? new Float32Array(0) });
      }
    }
    found.sort((a, b) => byId(a.memory, b.memory));
    for (const { memory, vector } of found) yield { memory: cloneMemory(memory), vector: Float32Array.from(vector) };
  }
}

/** Rewrites a stored memory's fields, keeping its access statistics (only `touch` changes those). */
function replaceMemory(data: UserData, memory: Memory): void {
  const current = data.memories.get(memory.id);
  if (!current) throw notFound('memory', memory.id);
  data.memories.set(memory.id, {
    ...cloneMemory(memory),
    accessCount: current.accessCount,
    lastAccessedAt: current.lastAccessedAt,
  });
}

/** One insert writes one user's file, so that it stays all-or-nothing. */
function singleUser(records: MemoryRecord[], history: HistoryEntry[], changed: Memory[]): string {
  const userIds = new Set([
    ...records.map((record) => record.memory.userId),
    ...history.map((entry) => entry.userId),
    ...changed.map((memory) => memory.userId),
  ]);
  const [userId] = userIds;
  if (userIds.size !== 1 || userId === undefined) {
    throw invalid('the json store inserts one user’s memories per call; split the batch by user');
  }
  return userId;
}

function checkEntry(entry: HistoryEntry, userId: string, memoryId: string): void {
  if (entry.userId !== userId || entry.memoryId !== memoryId) {
    throw invalid(`history entry ${entry.id} does not describe memory ${memoryId} of this user`);
  }
}
