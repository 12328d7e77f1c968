import type { Neighbours } from '../core/conversation-context.js';
import { EngramError } from '../core/errors.js';
import { encodeCursor } from '../core/filter.js';
import type {
  CategoryCount,
  DayCount,
  EmbeddingInfo,
  HistoryEntry,
  Job,
  JobCounts,
  JobError,
  JobLease,
  JsonValue,
  KeywordHit,
  Memory,
  MemoryRecord,
  Page,
  StoreFilter,
  VectorHit,
} from '../core/types.js';

export interface ListOptions {
  filter: StoreFilter;
  limit: number;
  /** Cursor returned by a previous page (opaque to callers). */
  cursor?: string | undefined;
}

export interface DeletedOptions {
  limit: number;
  /** Cursor returned by a previous page (opaque to callers). */
  cursor?: string | undefined;
}

/** How a lease holder ends an attempt of a job. */
export type JobOutcome =
  | { status: 'succeeded'; at: string; result: JsonValue }
  | { status: 'failed'; at: string; error: JobError }
  /** A retry: back to `queued`, claimable from `runAfter` on; the error is kept as the last failure. */
  | { status: 'queued'; at: string; error: JobError; runAfter: string };

export interface JobClaim {
  /** The instant against which `runAfter` and lease expiry are judged. */
  now: string;
  /** A fresh random token: the claimed job's lease. */
  lease: string;
  leaseUntil: string;
}

export interface StoreStats {
  memories: number;
  users: number;
  /** Bytes on disk, when the store can tell. */
  bytes?: number;
}

/** What one user stores now: current memories (not deleted ones) and the UTF-8 bytes of their content. */
export interface UserUsage {
  memories: number;
  bytes: number;
}

/** How `insert` guards against duplicates written by another process. */
export interface InsertOptions {
  /**
   * Refuse the whole insert with `duplicateContent` when a memory of the same user that is visible
   * at this instant (not superseded, not expired) already has the content hash of one of the new
   * memories that is visible too. Checked inside the write transaction (or file lock), so two
   * processes adding the same content store it once; the caller looks again and reports a duplicate.
   */
  uniqueAt?: string;
}

/** The error `insert` refuses a duplicate with (see `InsertOptions.uniqueAt`). */
export function duplicateContent(hashes: string[]): EngramError {
  return new EngramError('conflict', 'the same content was stored meanwhile (by another process)', {
    details: { duplicateHashes: hashes },
  });
}

export function isDuplicateContent(error: unknown): boolean {
  return error instanceof EngramError && error.code === 'conflict' && Array.isArray(error.details?.duplicateHashes);
}

/** The new memories `insert` must check for `uniqueAt`: those visible at that instant. */
export function uniqueCandidates(records: MemoryRecord[], at: string | undefined): Memory[] {
  if (at === undefined) return [];
  return records
    .map((record) => record.memory)
    .filter((memory) => memory.supersededBy === null && (memory.expiresAt === null || memory.expiresAt > at));
}

/** One user of the store, as the admin sees it. */
export interface UserSummary {
  userId: string;
  memories: number;
  /** When the newest of their memories was added (ISO-8601). */
  lastAddedAt: string;
}

/**
 * The memories themselves: writes (each with its history entries, atomically), reads, and the
 * store-wide walks over them. Every method is scoped by `userId` unless it says it is store-wide.
 */
export interface MemoryRecords {
  /**
   * Inserts new memories with their vectors and history entries, all or nothing. `changed` are
   * existing memories of the same user rewritten in the same transaction (their vectors and access
   * statistics stay) — e.g. the old fact a new memory supersedes.
   */
  insert(records: MemoryRecord[], history: HistoryEntry[], changed?: Memory[], options?: InsertOptions): Promise<void>;
  get(userId: string, id: string): Promise<Memory | null>;
  getMany(userId: string, ids: string[]): Promise<Memory[]>;
  /**
   * The oldest memory with this content hash among those `filter` lets through (with the default
   * filter, expired and superseded memories are invisible, so dedupe never matches them), or null.
   */
  findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null>;
  /** `findByHash` for many hashes in one call: the oldest visible memory per hash found. */
  findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>>;
  list(userId: string, options: ListOptions): Promise<Page<Memory>>;
  /**
   * Replaces a memory (same id and user); a new vector replaces the old one when given. Access
   * statistics (`accessCount`, `lastAccessedAt`) are only ever changed by `touch`.
   */
  update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void>;
  /** Removes a memory and its vector; history is kept (with the delete entry appended). */
  delete(userId: string, id: string, history: HistoryEntry): Promise<boolean>;
  /**
   * Erases one memory for good, in one transaction: the memory if it exists, its vector, and every
   * history entry of it — nothing is appended, so no trace of it is left to list or restore — and
   * the user's finished jobs whose result names it (an add's result holds the content; the JSON
   * store writes its jobs file second). False when there was neither memory nor history (never
   * stored, another user's, forgotten already).
   */
  forget(userId: string, id: string): Promise<boolean>;
  /**
   * Records reads: adds each count to the memory's `accessCount` and moves `lastAccessedAt` to `at`
   * (never backwards). Ids that are not (or no longer) the user's are ignored. No history entry.
   */
  touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void>;
  /**
   * For each of `ids` that `filter` lets through and that has a session: the ids of up to `window`
   * memories just before and after it in that session (same user and `sessionId`, ordered by
   * `createdAt` then id), nearest first, among those `filter` lets through. Other ids are left
   * out. Same semantics as `neighboursAmong` in core over the visible memories.
   */
  neighbours(userId: string, ids: string[], window: number, filter: StoreFilter): Promise<Map<string, Neighbours>>;
  categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]>;
  /** Memories `filter` lets through, counted by the UTC day of `createdAt`, oldest first; days without any are left out. */
  addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]>;
  /** Up to `limit` memories of any user whose `expiresAt` is at or before `now`, soonest expired first (for the sweeper). */
  expired(now: string, limit: number): Promise<{ userId: string; id: string }[]>;
  /** Every record (memory + vector) in id order, optionally for one user; for export and reindex. */
  scan(userId?: string): AsyncIterable<MemoryRecord>;
}

/** The history entries every change of a memory appends (written by `MemoryRecords`, read here). */
export interface MemoryHistory {
  history(userId: string, memoryId: string): Promise<HistoryEntry[]>;
  /** `history` of many memories in one call: an entry per id that has any history (another user's ids have none). */
  historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>>;
  /**
   * The user's deleted memories that can still be restored (absent now, their history kept): for
   * each, the `delete` entry that removed it last (its `before` is the memory as it was) — only when
   * nothing was written for that memory since. Most recently deleted first (by entry id), in pages.
   */
  deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>>;
  /**
   * Every history entry — of deleted memories too — grouped by user, then memory (both in id
   * order), each memory's entries in the order they were written; for `migrate-store`.
   */
  scanHistory(): AsyncIterable<HistoryEntry>;
}

/** Keyword and vector search, the stored vectors, and the embedding model they came from. */
export interface SearchIndex {
  /** Full-text candidates, best first. `terms` are already normalised words. */
  keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]>;
  /**
   * Nearest vectors by cosine similarity, best first. A zero vector (stored or queried) has no
   * direction and so no similarity: it is never returned, rather than ranked.
   */
  vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]>;
  /** The stored vectors of the user's memories among `ids` (others are left out). */
  vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>>;
  /** Replaces vectors (reindex). */
  setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void>;
  /** Which embedding model produced the stored vectors (null until the first vector is stored). */
  getEmbeddingInfo(): Promise<EmbeddingInfo | null>;
  setEmbeddingInfo(info: EmbeddingInfo): Promise<void>;
}

/**
 * Background jobs (src/jobs/), persisted beside the memories so that they survive restarts and
 * any replica on the same store can run them.
 */
export interface JobStore {
  /** Stores a new job (status `queued`, no lease). */
  enqueueJob(job: Job): Promise<void>;
  /** One of the user's jobs, or null (also for another user's job id). */
  getJob(userId: string, id: string): Promise<Job | null>;
  /**
   * Atomically takes the oldest (by id) runnable job of any user — `queued` with `runAfter <= now`,
   * or `running` with `leaseUntil <= now` (its runner died) — and returns it marked `running`
   * under `claim.lease` until `claim.leaseUntil`, its `attempts` one higher. Two claims, from this
   * process or another, never get the same job while its lease holds. Null when none is runnable.
   * Store-wide (one runner serves every user), like `stats`.
   */
  claimJob(claim: JobClaim): Promise<Job | null>;
  /** Heartbeat: moves a held lease's expiry to `leaseUntil`. False when the lease is no longer held. */
  renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean>;
  /**
   * Ends the attempt of the lease holder (and releases the lease): succeeded, failed, or queued
   * again for a retry. False, changing nothing, when the lease is no longer held (it expired and
   * another runner claimed the job).
   */
  settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean>;
  /** Jobs waiting (`queued`) and `running` (leases still held or not), for the queue-depth gauge. */
  jobCounts(): Promise<JobCounts>;
  /**
   * Deletes up to `limit` finished jobs (`succeeded` or `failed`) of any user that last changed
   * before `before`, longest finished first; returns how many went (job retention, for the sweeper).
   * Queued and running jobs are never touched.
   */
  pruneJobs(before: string, limit: number): Promise<number>;
}

/** The store as a whole: opening and closing it, health, sizes, users, erasure and upkeep. */
export interface StoreAdmin {
  readonly name: string;
  /** Runs migrations / opens files. Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
  /**
   * Proves the store can take a write now (for `/ready`): writes one row or file of its own
   * bookkeeping, touching no user's data, the way a real write would (a transaction, an fsync).
   */
  probeWrite(): Promise<void>;
  stats(): Promise<StoreStats>;
  /** What one user stores now (for per-user limits: stores/quota.ts). */
  usage(userId: string): Promise<UserUsage>;
  /** Every user with at least one memory, ordered by id (store-wide: for admins only). */
  users(): Promise<UserSummary[]>;
  /** Removes every memory, vector, history entry and job of one user; returns how many memories went. */
  purgeUser(userId: string): Promise<number>;
  /**
   * Rewrites the store's storage so that the space deleted rows took holds none of their content
   * any more (after forgetting or purging). Slow and locking on a large store: an operator's task
   * (`engram compact`), never run by the server. A no-op where every write rewrites its files.
   */
  compact(): Promise<void>;
  /**
   * Optional, for bulk loads (`migrate-store`): drops indexes that cost less to build once at the
   * end than to maintain row by row, and returns the function that rebuilds them. A load cut off
   * before the rebuild is repaired by the next `init()`.
   */
  deferIndexes?(): Promise<() => Promise<void>>;
}

/**
 * The one swap point for persistence: every role above, which each backend implements (services
 * take the narrowest role they use). Every method is scoped by `userId`: a store never returns or
 * changes a row of another user. Writes that carry a history entry apply both atomically.
 * Stores hold no business rules (dedupe, ranking, validation live in MemoryService).
 */
export interface MemoryStore extends StoreAdmin, MemoryRecords, MemoryHistory, SearchIndex, JobStore {}

/** Entries (each memory's in order) grouped by memory id, for `historyMany`. */
export function groupHistory(entries: HistoryEntry[]): Map<string, HistoryEntry[]> {
  const byMemory = new Map<string, HistoryEntry[]>();
  for (const entry of entries) {
    const list = byMemory.get(entry.memoryId);
    if (list) list.push(entry);
    else byMemory.set(entry.memoryId, [entry]);
  }
  return byMemory;
}

/**
 * `deleted` over one user's whole history in write order (for stores that hold it in memory):
 * each memory's last entry, when it is a delete of a memory that does not exist now.
 */
export function deletionsPage(
  history: readonly HistoryEntry[],
  exists: (memoryId: string) => boolean,
  before: string | null,
  limit: number,
): Page<HistoryEntry> {
  const last = new Map<string, HistoryEntry>();
  for (const entry of history) last.set(entry.memoryId, entry);
  const deletions = [...last.values()]
    .filter((entry) => entry.event === 'delete' && !exists(entry.memoryId) && (before === null || entry.id < before))
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const items = deletions.slice(0, limit);
  const end = items.at(-1);
  return { items, nextCursor: deletions.length > limit && end ? encodeCursor(end.id) : null };
}
