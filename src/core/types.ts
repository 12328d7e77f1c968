/** The data model shared by every store and front end (see docs/ARCHITECTURE.md). */

export const MEMORY_SOURCES = ['api', 'mcp', 'cli', 'telegram', 'kb', 'import'] as const;
export type MemorySource = (typeof MEMORY_SOURCES)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = { [key: string]: JsonValue };

/** Who a request acts for. `userId` is the tenant; the finer scopes are optional. */
export interface Scope {
  userId: string;
  agentId?: string | undefined;
  sessionId?: string | undefined;
}

export interface Memory {
  /** Time-ordered id (UUIDv7). */
  id: string;
  userId: string;
  agentId: string | null;
  sessionId: string | null;
  content: string;
  category: string;
  tags: string[];
  metadata: Metadata;
  /** ISO-8601 UTC timestamps (`Date#toISOString`), so they sort as strings. */
  createdAt: string;
  updatedAt: string;
  /** When the remembered thing happened, if known. */
  eventAt: string | null;
  /** After this instant the memory is expired and hidden unless asked for. */
  expiresAt: string | null;
  pinned: boolean;
  source: MemorySource;
  /** sha256 of the normalised content: exact duplicates for one user are stored once. */
  hash: string;
  /** The memory that replaced this one (a newer fact); this one stays, as history. */
  supersededBy: string | null;
  /** Until when this memory was the current fact (set together with `supersededBy`). */
  validTo: string | null;
  /** How often the memory was returned by search or read by id. */
  accessCount: number;
  /** When it was last returned by search or read by id. */
  lastAccessedAt: string | null;
}

/** A memory together with its embedding, as stores persist it. */
export interface MemoryRecord {
  memory: Memory;
  vector: Float32Array;
}

/**
 * `merge`: content that repeated this memory was folded into it (near-duplicate); `noop`: an LLM
 * found nothing new in a fact that matched this memory (the reason says why).
 */
export const HISTORY_EVENTS = ['add', 'update', 'supersede', 'merge', 'noop', 'delete', 'restore'] as const;
export type HistoryEvent = (typeof HISTORY_EVENTS)[number];

export interface HistoryEntry {
  id: string;
  memoryId: string;
  userId: string;
  event: HistoryEvent;
  /** The memory before the change (null for add). */
  before: Memory | null;
  /** The memory after the change (null for delete). */
  after: Memory | null;
  actor: string;
  at: string;
  reason: string | null;
}

/** Filters shared by list and search. Every field narrows the result. */
export interface MemoryFilter {
  agentId?: string | undefined;
  sessionId?: string | undefined;
  category?: string | undefined;
  /** Where the memory came from (api, mcp, cli, telegram, kb, import). */
  source?: MemorySource | undefined;
  /** The memory carries at least one of these tags. */
  tagsAny?: string[] | undefined;
  /** The memory carries every one of these tags. */
  tagsAll?: string[] | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
  eventAfter?: string | undefined;
  eventBefore?: string | undefined;
  /** Top-level metadata keys equal to these scalar values. */
  metadata?: { [key: string]: string | number | boolean | null } | undefined;
  includeSuperseded?: boolean | undefined;
  includeExpired?: boolean | undefined;
}

/** A filter with the instant against which expiry is judged, as stores receive it. */
export interface StoreFilter extends MemoryFilter {
  now: string;
  /**
   * Point-in-time view (`as_of`): only memories created at or before this instant that were still
   * the current fact then (`validTo` null or later). Callers set it with `includeSuperseded` and
   * `now` equal to it, so expiry is judged at that instant too.
   */
  validAt?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, or null at the end. */
  nextCursor: string | null;
}

export interface CategoryCount {
  category: string;
  count: number;
}

/** How many memories were added on one UTC day (`YYYY-MM-DD`). */
export interface DayCount {
  day: string;
  count: number;
}

export interface EmbeddingInfo {
  model: string;
  dimension: number;
}

export type SearchMode = 'hybrid' | 'vector' | 'keyword';

export interface KeywordHit {
  id: string;
  /** Higher is better (e.g. negated BM25). */
  score: number;
  /**
   * How much of the query the memory's words cover, weighed by how rare each word is in the user's
   * memories (Σ idf of the query words it contains / Σ idf of all query words), 0–1; absent when
   * the store does not tell.
   */
  coverage?: number;
}

export interface VectorHit {
  id: string;
  /** Cosine similarity in [-1, 1]. */
  similarity: number;
}

export interface SearchExplanation {
  mode: SearchMode;
  /** `coverage`: the share of the query (idf-weighted) the memory's words cover, when the store tells. */
  keyword: { rank: number; score: number; coverage?: number } | null;
  vector: { rank: number; similarity: number } | null;
  fusion: { method: 'rrf'; k: number; keywordWeight: number; vectorWeight: number } | null;
  /**
   * Conversation context (hybrid only): score lent by matching neighbours in the same session;
   * `from` names some of them, `offset` being their position relative to this memory (-1: the
   * memory just before it).
   */
  context: { boost: number; from: { id: string; offset: number }[] } | null;
  /**
   * Recency decay (when ENGRAM_SEARCH_RECENCY_HALF_LIFE_DAYS is set): the factor the score was
   * multiplied by, for a memory this many days old (by `eventAt`, else `createdAt`). Pinned
   * memories do not decay.
   */
  recency?: { factor: number; ageDays: number } | undefined;
  /**
   * Why the result is (not) relevant: the cosine similarity of its vector to the query's (null in
   * keyword mode, where a word match is the evidence) against the threshold in force.
   */
  relevance?: { similarity: number | null; minRelevance: number } | undefined;
}

export interface SearchResult {
  memory: Memory;
  score: number;
  explanation: SearchExplanation;
  /**
   * Whether it is relevant to the query: its meaning is at least `minRelevance` similar to the
   * query's (keyword mode: it contains a query word). Ranking fills the limit; this says which
   * results are worth showing.
   */
  relevant: boolean;
}

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Why an attempt of a job failed, as clients may see it (never a secret: see `publicError`). */
export interface JobError {
  code: string;
  message: string;
}

/**
 * A unit of background work (e.g. an asynchronous add), persisted by the store so that it
 * survives restarts. A runner claims it with a lease; a job whose lease expires while `running`
 * (its process died) is claimable again.
 */
export interface Job {
  /** Time-ordered id (UUIDv7): the oldest runnable job is claimed first. */
  id: string;
  userId: string;
  /** Which handler runs it (`add`, …). */
  kind: string;
  status: JobStatus;
  /** What the handler needs, validated at enqueue time. */
  payload: JsonValue;
  /** Set when `succeeded`. */
  result: JsonValue | null;
  /** The last failure: set when `failed`, and kept while a retry waits. */
  error: JobError | null;
  /** How many times a runner has started the job. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
  /** Not claimed before this instant (the backoff of a retry). */
  runAfter: string;
  /** While `running`: the lease's token and expiry; null otherwise. */
  lease: string | null;
  leaseUntil: string | null;
}

/** The lease a runner holds on a claimed job: only its holder may change the job. */
export interface JobLease {
  userId: string;
  id: string;
  lease: string;
}

export interface JobCounts {
  queued: number;
  running: number;
}
