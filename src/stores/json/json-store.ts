import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Neighbours, neighboursAmong } from '../../core/conversation-context.js';
import { EngramError, invalid, notFound } from '../../core/errors.js';
import { decodeCursor, encodeCursor, matchesFilter } from '../../core/filter.js';
import type {
  CategoryCount,
  DayCount,
  EmbeddingInfo,
  HistoryEntry,
  Job,
  JobCounts,
  JobLease,
  KeywordHit,
  Memory,
  MemoryRecord,
  Page,
  StoreFilter,
  VectorHit,
} from '../../core/types.js';
import { resultNames, settledColumns } from '../jobs-columns.js';
import {
  type DeletedOptions,
  deletionsPage,
  duplicateContent,
  groupHistory,
  type InsertOptions,
  type JobClaim,
  type JobOutcome,
  type ListOptions,
  type MemoryStore,
  type StoreStats,
  type UserSummary,
  type UserUsage,
  uniqueCandidates,
} from '../store.js';
import { ascending, type Snapshot, UserFileCache } from './json-cache.js';
import type { JsonStoreConfig } from './json-config.js';
import { fileSize, readIfExists, removeDir, replaceFile, subdirectories } from './json-files.js';
import {
  byId,
  ioError,
  newStoreFile,
  parseJobsFile,
  parseStoreFile,
  type StoreFile,
  serializeJobsFile,
  serializeStoreFile,
  type UserData,
} from './json-format.js';
import { Layout } from './json-layout.js';
import { FileLocks } from './json-lock.js';
import { categoryCounts, dayCounts, keywordHits, newestFirst, vectorHits } from './json-search.js';

/*
 * Every change is a read-modify-write of one whole file under its lock, re-reading the file first,
 * so that several processes can share one data dir without losing writes.
 */

interface MutationOutcome<T> {
  result: T;
  changed: boolean;
}

const cloneMemory = (memory: Memory): Memory => structuredClone(memory);
const cloneEntry = (entry: HistoryEntry): HistoryEntry => structuredClone(entry);
const cloneJob = (job: Job): Job => structuredClone(job);

type State = 'new' | 'open' | 'closed';

/** The `json` MemoryStore: one human-readable file per user, safe for several processes on one data dir. */
export class JsonStore implements MemoryStore {
  readonly name = 'json';
  readonly #layout: Layout;
  readonly #locks: FileLocks;
  readonly #files: UserFileCache;
  readonly #inflight = new Set<Promise<unknown>>();
  #state: State = 'new';
  #opening: Promise<void> | null = null;

  constructor(config: JsonStoreConfig) {
    this.#layout = new Layout(config.dataDir);
    this.#locks = new FileLocks({ locksDir: this.#layout.locksDir, ...config });
    this.#files = new UserFileCache(this.#layout, config.pretty);
  }

  /** The directory holding the store's files (`<dataDir>/memory`). */
  get directory(): string {
    return this.#layout.root;
  }

  async init(): Promise<void> {
    if (this.#state === 'open') return;
    this.#opening ??= this.#open().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  /** Waits for in-flight operations, then drops the cache. Calls after close fail until `init()`. */
  async close(): Promise<void> {
    this.#state = 'closed';
    await Promise.allSettled([...this.#inflight]);
    this.#files.clear();
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    return this.#track(async () => {
      const info = (await this.#readStoreFile())?.embedding;
      return info ? { model: info.model, dimension: info.dimension } : null;
    });
  }

  async probeWrite(): Promise<void> {
    return this.#track(() =>
      replaceFile(
        join(dirname(this.#layout.storeFile), '.ready-probe'),
        `${new Date().toISOString()}\n`,
        () => undefined,
      ).then(() => undefined),
    );
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    return this.#track(() =>
      this.#locks.run(this.#layout.storeLock, async (beforeCommit) => {
        const current = (await this.#readStoreFile()) ?? newStoreFile();
        const next = { ...current, embedding: { model: info.model, dimension: info.dimension } };
        await this.#writeStoreFile(next, beforeCommit);
      }),
    );
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
    return this.#mutate(userId, (data) => {
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
    return this.#read(userId, (snapshot) => {
      const memory = snapshot.data.memories.get(id);
      return memory ? cloneMemory(memory) : null;
    });
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    return this.#read(userId, (snapshot) => {
      const found: Memory[] = [];
      for (const id of new Set(ids)) {
        const memory = snapshot.data.memories.get(id);
        if (memory) found.push(cloneMemory(memory));
      }
      return found;
    });
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    return this.#read(userId, (snapshot) => {
      const memory = ascending(snapshot).find(
        (candidate) => candidate.hash === hash && matchesFilter(candidate, filter),
      );
      return memory ? cloneMemory(memory) : null;
    });
  }

  async findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>> {
    if (hashes.length === 0) return new Map();
    const wanted = new Set(hashes);
    return this.#read(userId, (snapshot) => {
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
    return this.#read(userId, (snapshot) => {
      const { items, more } = newestFirst(ascending(snapshot), options.filter, before, limit);
      const last = items.at(-1);
      return { items: items.map(cloneMemory), nextCursor: more && last ? encodeCursor(last.id) : null };
    });
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    checkEntry(history, memory.userId, memory.id);
    return this.#mutate(memory.userId, (data) => {
      replaceMemory(data, memory);
      if (vector) data.vectors.set(memory.id, Float32Array.from(vector));
      data.history.push(cloneEntry(history));
      return { result: undefined, changed: true };
    });
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    checkEntry(history, userId, id);
    return this.#mutate(userId, (data) => {
      if (!data.memories.delete(id)) return { result: false, changed: false };
      data.vectors.delete(id);
      data.history.push(cloneEntry(history));
      return { result: true, changed: true };
    });
  }

  async forget(userId: string, id: string): Promise<boolean> {
    const erased = await this.#mutate(userId, (data) => {
      const memory = data.memories.delete(id);
      data.vectors.delete(id);
      let kept = 0;
      for (const entry of data.history) if (entry.memoryId !== id) data.history[kept++] = entry;
      const history = data.history.length - kept;
      data.history.length = kept;
      return memory || history > 0 ? { result: true, changed: true } : { result: false, changed: false };
    });
    // The jobs are in a file of their own: a second write, after the user's.
    await this.#mutateJobs((jobs) => {
      const kept = jobs.filter((job) => job.userId !== userId || !resultNames(job.result, id));
      return { result: undefined, changed: kept.length !== jobs.length, jobs: kept };
    });
    return erased;
  }

  async compact(): Promise<void> {
    // Nothing to do: every change writes the whole file anew and replaces the old one.
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    return this.#read(userId, (snapshot) =>
      snapshot.data.history.filter((entry) => entry.memoryId === memoryId).map(cloneEntry),
    );
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    const wanted = new Set(memoryIds);
    return this.#read(userId, (snapshot) =>
      groupHistory(snapshot.data.history.filter((entry) => wanted.has(entry.memoryId)).map(cloneEntry)),
    );
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const before = options.cursor === undefined ? null : decodeCursor(options.cursor);
    return this.#read(userId, (snapshot) => {
      const { data } = snapshot;
      const page = deletionsPage(data.history, (id) => data.memories.has(id), before, Math.max(0, options.limit));
      return { ...page, items: page.items.map(cloneEntry) };
    });
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    const userIds = (await this.#track(() => this.#userIds())).sort(byString);
    for (const userId of userIds) {
      const entries = await this.#read(userId, (snapshot) => snapshot.data.history.map(cloneEntry));
      // A stable sort: each memory's entries keep the order they were written in.
      entries.sort((a, b) => byString(a.memoryId, b.memoryId));
      yield* entries;
    }
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    return this.#read(userId, (snapshot) => categoryCounts(visible(snapshot, filter)));
  }

  async addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]> {
    return this.#read(userId, (snapshot) => dayCounts(visible(snapshot, filter)));
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    return this.#read(userId, (snapshot) => keywordHits(visible(snapshot, filter), terms, limit));
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    return this.#read(userId, (snapshot) =>
      vectorHits(visible(snapshot, filter), snapshot.data.vectors, vector, limit),
    );
  }

  async neighbours(
    userId: string,
    ids: string[],
    window: number,
    filter: StoreFilter,
  ): Promise<Map<string, Neighbours>> {
    if (ids.length === 0 || window < 1) return new Map();
    return this.#read(userId, (snapshot) => neighboursAmong(visible(snapshot, filter), ids, window));
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    return this.#mutate(userId, (data) => {
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

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    const found: { userId: string; id: string; expiresAt: string }[] = [];
    for (const userId of await this.#track(() => this.#userIds())) {
      const memories = await this.#read(userId, (snapshot) => [...snapshot.data.memories.values()]);
      for (const memory of memories) {
        if (memory.expiresAt !== null && memory.expiresAt <= now) {
          found.push({ userId, id: memory.id, expiresAt: memory.expiresAt });
        }
      }
    }
    found.sort((a, b) => byString(a.expiresAt, b.expiresAt) || byString(a.id, b.id));
    return found.slice(0, limit).map(({ userId, id }) => ({ userId, id }));
  }

  async purgeUser(userId: string): Promise<number> {
    const dir = this.#layout.userDir(userId);
    return this.#track(() =>
      this.#locks.run(this.#layout.userLock(userId), async () => {
        // Erasure must succeed even when the file is damaged; the count is then unknown (0).
        const count = await this.#files.read(userId).then(
          (snapshot) => snapshot.data.memories.size,
          () => 0,
        );
        await removeDir(dir, this.#layout.trashDir(), this.#layout.root);
        this.#files.forget(userId);
        await this.#mutateJobs((jobs) => {
          const kept = jobs.filter((job) => job.userId !== userId);
          return { result: undefined, changed: kept.length !== jobs.length, jobs: kept };
        });
        return count;
      }),
    );
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    const userIds = userId === undefined ? await this.#track(() => this.#userIds()) : [userId];
    const found: { memory: Memory; vector: Float32Array }[] = [];
    for (const id of userIds) {
      const snapshot = await this.#read(id, (current) => current);
      for (const memory of ascending(snapshot)) {
        found.push({ memory, vector: snapshot.data.vectors.get(memory.id) ?? new Float32Array(0) });
      }
    }
    found.sort((a, b) => byId(a.memory, b.memory));
    for (const { memory, vector } of found) yield { memory: cloneMemory(memory), vector: Float32Array.from(vector) };
  }

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    return this.#read(userId, (snapshot) => {
      const found = new Map<string, Float32Array>();
      for (const id of ids) {
        const vector = snapshot.data.vectors.get(id);
        if (vector) found.set(id, Float32Array.from(vector));
      }
      return found;
    });
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    const byUser = new Map<string, { id: string; vector: Float32Array }[]>();
    for (const entry of entries) {
      this.#layout.userDir(entry.userId);
      byUser.set(entry.userId, [...(byUser.get(entry.userId) ?? []), entry]);
    }
    for (const [userId, updates] of byUser) {
      await this.#mutate(userId, (data) => {
        // A memory deleted while a reindex runs is skipped rather than resurrected.
        const known = updates.filter(({ id }) => data.memories.has(id));
        for (const { id, vector } of known) data.vectors.set(id, Float32Array.from(vector));
        return { result: undefined, changed: known.length > 0 };
      });
    }
  }

  async stats(): Promise<StoreStats> {
    return this.#track(async () => {
      let memories = 0;
      let users = 0;
      let bytes = await fileSize(this.#layout.storeFile);
      for (const userId of await this.#userIds()) {
        const count = (await this.#files.read(userId)).data.memories.size;
        memories += count;
        if (count > 0) users++;
        bytes += await fileSize(this.#layout.userFile(userId));
      }
      return { memories, users, bytes };
    });
  }

  async usage(userId: string): Promise<UserUsage> {
    return this.#read(userId, (snapshot) => {
      let bytes = 0;
      for (const memory of snapshot.data.memories.values()) bytes += Buffer.byteLength(memory.content);
      return { memories: snapshot.data.memories.size, bytes };
    });
  }

  async users(): Promise<UserSummary[]> {
    return this.#track(async () => {
      const users: UserSummary[] = [];
      for (const userId of (await this.#userIds()).sort(byString)) {
        const memories = [...(await this.#files.read(userId)).data.memories.values()];
        if (memories.length === 0) continue;
        const lastAddedAt = memories.reduce(
          (latest, memory) => (memory.createdAt > latest ? memory.createdAt : latest),
          '',
        );
        users.push({ userId, memories: memories.length, lastAddedAt });
      }
      return users;
    });
  }

  // -- jobs: one file for every user's jobs (a claim needs to see all of them) ---------------------

  async enqueueJob(job: Job): Promise<void> {
    this.#layout.userDir(job.userId);
    return this.#mutateJobs((jobs) => {
      if (jobs.some((known) => known.id === job.id)) {
        throw new EngramError('conflict', `job ${job.id} already exists`, { details: { id: job.id } });
      }
      return { result: undefined, changed: true, jobs: [...jobs, cloneJob(job)] };
    });
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    this.#layout.userDir(userId);
    return this.#track(async () => {
      const job = (await this.#readJobs()).find((known) => known.id === id && known.userId === userId);
      return job ? cloneJob(job) : null;
    });
  }

  async claimJob(claim: JobClaim): Promise<Job | null> {
    return this.#mutateJobs((jobs) => {
      // Jobs are kept in id order, so the first runnable one is the oldest.
      const index = jobs.findIndex(
        (job) =>
          (job.status === 'queued' && job.runAfter <= claim.now) ||
          (job.status === 'running' && job.leaseUntil !== null && job.leaseUntil <= claim.now),
      );
      const job = jobs[index];
      if (!job) return { result: null, changed: false, jobs };
      const claimed: Job = {
        ...job,
        status: 'running',
        attempts: job.attempts + 1,
        lease: claim.lease,
        leaseUntil: claim.leaseUntil,
        updatedAt: claim.now,
      };
      const next = jobs.slice();
      next[index] = claimed;
      return { result: cloneJob(claimed), changed: true, jobs: next };
    });
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    return this.#changeHeldJob(lease, (job) => ({ ...job, leaseUntil }));
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    return this.#changeHeldJob(lease, (job) => ({
      ...job,
      status: settled.status,
      payload: settled.dropPayload ? null : job.payload,
      result: settled.result,
      error: settled.error,
      runAfter: settled.runAfter ?? job.runAfter,
      updatedAt: settled.at,
      lease: null,
      leaseUntil: null,
    }));
  }

  async jobCounts(): Promise<JobCounts> {
    return this.#track(async () => {
      const counts: JobCounts = { queued: 0, running: 0 };
      for (const job of await this.#readJobs()) {
        if (job.status === 'queued' || job.status === 'running') counts[job.status]++;
      }
      return counts;
    });
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    return this.#mutateJobs((jobs) => {
      const finished = jobs
        .filter((job) => (job.status === 'succeeded' || job.status === 'failed') && job.updatedAt < before)
        .sort((a, b) => byString(a.updatedAt, b.updatedAt) || byString(a.id, b.id))
        .slice(0, limit);
      if (finished.length === 0) return { result: 0, changed: false, jobs };
      const gone = new Set(finished.map((job) => job.id));
      return { result: gone.size, changed: true, jobs: jobs.filter((job) => !gone.has(job.id)) };
    });
  }

  /** Changes the job `lease` holds, if it still holds it; false otherwise. */
  #changeHeldJob(lease: JobLease, change: (job: Job) => Job): Promise<boolean> {
    return this.#mutateJobs((jobs) => {
      const index = jobs.findIndex(
        (job) =>
          job.id === lease.id && job.userId === lease.userId && job.status === 'running' && job.lease === lease.lease,
      );
      const job = jobs[index];
      if (!job) return { result: false, changed: false, jobs };
      const next = jobs.slice();
      next[index] = change(job);
      return { result: true, changed: true, jobs: next };
    });
  }

  async #readJobs(): Promise<Job[]> {
    const text = await readIfExists(this.#layout.jobsFile);
    return text === null ? [] : parseJobsFile(text, this.#layout.jobsFile);
  }

  /** A read-modify-write of `jobs.json` under its lock (against this and other processes), written atomically. */
  #mutateJobs<T>(change: (jobs: Job[]) => MutationOutcome<T> & { jobs: Job[] }): Promise<T> {
    return this.#track(() =>
      this.#locks.run(this.#layout.jobsLock, async (beforeCommit) => {
        const outcome = change(await this.#readJobs());
        if (outcome.changed) await replaceFile(this.#layout.jobsFile, serializeJobsFile(outcome.jobs), beforeCommit);
        return outcome.result;
      }),
    );
  }

  // -- lifecycle ------------------------------------------------------------------------------

  async #open(): Promise<void> {
    try {
      await mkdir(this.#layout.locksDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw ioError('create', this.#layout.locksDir, error);
    }
    await this.#locks.run(this.#layout.storeLock, async (beforeCommit) => {
      const current = await this.#readStoreFile();
      if (current === null) await this.#writeStoreFile(newStoreFile(), beforeCommit);
    });
    this.#files.clear();
    this.#state = 'open';
  }

  /** Runs one operation: opens the store on first use, refuses after close, and lets close wait for it. */
  async #track<T>(work: () => Promise<T>): Promise<T> {
    if (this.#state === 'closed') throw new EngramError('unavailable', 'the json store is closed');
    if (this.#state === 'new') await this.init();
    const running = work();
    this.#inflight.add(running);
    try {
      return await running;
    } finally {
      this.#inflight.delete(running);
    }
  }

  // -- reads and writes -----------------------------------------------------------------------

  #read<T>(userId: string, view: (snapshot: Snapshot) => T): Promise<T> {
    this.#layout.userDir(userId);
    return this.#track(async () => view(await this.#files.read(userId)));
  }

  /** A read-modify-write of one user's file under that user's lock; the change sees the file as it is now. */
  #mutate<T>(userId: string, change: (data: UserData) => MutationOutcome<T>): Promise<T> {
    const lock = this.#layout.userLock(userId);
    return this.#track(() =>
      this.#locks.run(lock, async (beforeCommit) => {
        const current = await this.#files.read(userId);
        const draft: UserData = {
          memories: new Map(current.data.memories),
          vectors: new Map(current.data.vectors),
          history: current.data.history.slice(),
        };
        const outcome = change(draft);
        if (outcome.changed) await this.#files.write(userId, draft, beforeCommit);
        return outcome.result;
      }),
    );
  }

  async #readStoreFile(): Promise<StoreFile | null> {
    const text = await readIfExists(this.#layout.storeFile);
    return text === null ? null : parseStoreFile(text, this.#layout.storeFile);
  }

  async #writeStoreFile(content: StoreFile, beforeCommit: () => void): Promise<void> {
    await replaceFile(this.#layout.storeFile, serializeStoreFile(content), beforeCommit);
  }

  async #userIds(): Promise<string[]> {
    return (await subdirectories(this.#layout.root))
      .map((name) => this.#layout.userIdOf(name))
      .filter((userId): userId is string => userId !== null)
      .sort();
  }
}

function visible(snapshot: Snapshot, filter: StoreFilter): Memory[] {
  return ascending(snapshot).filter((memory) => matchesFilter(memory, filter));
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

/** Code-unit order, as the SQL stores' `COLLATE "C"` / binary columns sort. */
function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
