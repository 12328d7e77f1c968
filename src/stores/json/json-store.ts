import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { EngramError, invalid, notFound } from '../../core/errors.js';
import { decodeCursor, encodeCursor, matchesFilter } from '../../core/filter.js';
import { KeyedLock } from '../../core/keyed-lock.js';
import { memorySchema } from '../../core/schemas.js';
import { words } from '../../core/text.js';
import {
  type CategoryCount,
  type EmbeddingInfo,
  HISTORY_EVENTS,
  type HistoryEntry,
  type KeywordHit,
  type Memory,
  type MemoryRecord,
  type Page,
  type StoreFilter,
  type VectorHit,
} from '../../core/types.js';
import { cosine } from '../../embed/embedder.js';
import type { ListOptions, MemoryStore, StoreStats } from '../store.js';
import type { JsonStoreConfig } from './json-config.js';
import { CURRENT_FORMAT, type FileKind, migrateDocument } from './migrations.js';

/*
 * Layout under <dataDir>/memory/:
 *   store.json                   format version, embedding model
 *   user_<userId>/memories.json  one user's memories, vectors (base64 float32 LE) and history
 *   .locks/                      proper-lockfile lock directories (user_<userId>.lock, store.lock)
 * Files are only ever replaced whole (temp file + fsync + rename + fsync dir), so a reader sees either
 * the old or the new file. Every change is a read-modify-write under the user's lock, re-reading the file.
 */

const USER_ID = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;
const USER_PREFIX = 'user_';
const MEMORIES_FILE = 'memories.json';
const BM25_K1 = 1.2;
const BM25_B = 0.75;
const REVISION_HEAD_BYTES = 512;

// ---------------------------------------------------------------------------------------------
// File layout

class Layout {
  readonly root: string;
  readonly storeFile: string;
  readonly locksDir: string;
  readonly storeLock: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'memory');
    this.storeFile = join(this.root, 'store.json');
    this.locksDir = join(this.root, '.locks');
    this.storeLock = join(this.locksDir, 'store');
  }

  /** The user's directory; refuses any id that could name something outside `root`. */
  userDir(userId: string): string {
    const name = `${USER_PREFIX}${userId}`;
    const dir = resolve(this.root, name);
    if (typeof userId !== 'string' || !USER_ID.test(userId) || dirname(dir) !== this.root || basename(dir) !== name) {
      throw invalid(`user id ${JSON.stringify(userId)} cannot be stored by the json store`);
    }
    return dir;
  }

  userFile(userId: string): string {
    return join(this.userDir(userId), MEMORIES_FILE);
  }

  userLock(userId: string): string {
    this.userDir(userId);
    return join(this.locksDir, `${USER_PREFIX}${userId}`);
  }

  /** The user id a directory entry stands for, or null when it is not a user directory. */
  userIdOf(entry: string): string | null {
    if (!entry.startsWith(USER_PREFIX)) return null;
    const userId = entry.slice(USER_PREFIX.length);
    return USER_ID.test(userId) ? userId : null;
  }
}

// ---------------------------------------------------------------------------------------------
// File formats (version 1)

const historyEntrySchema = z.object({
  id: z.string(),
  memoryId: z.string(),
  userId: z.string(),
  event: z.enum(HISTORY_EVENTS),
  before: memorySchema.nullable(),
  after: memorySchema.nullable(),
  actor: z.string(),
  at: z.string(),
  reason: z.string().nullable(),
});

const userFileSchema = z.object({
  format: z.literal(CURRENT_FORMAT),
  revision: z.string().min(1),
  userId: z.string(),
  memories: z.array(memorySchema),
  vectors: z.record(z.string(), z.string()),
  history: z.array(historyEntrySchema),
});

const storeFileSchema = z.object({
  format: z.literal(CURRENT_FORMAT),
  createdAt: z.string(),
  embedding: z.object({ model: z.string().min(1), dimension: z.number().int().positive() }).nullable(),
});
type StoreFile = z.output<typeof storeFileSchema>;

interface UserData {
  memories: Map<string, Memory>;
  vectors: Map<string, Float32Array>;
  history: HistoryEntry[];
}

/** One parsed version of a user's file. Never mutated once built; writers build a new one. */
interface Snapshot {
  /** Random token written with each version of the file; null when the user has no file. */
  revision: string | null;
  /** `ino:size:mtimeMs` of the file this snapshot was read from or written to. */
  fingerprint: string | null;
  data: UserData;
  ascending?: Memory[];
}

interface MutationOutcome<T> {
  result: T;
  changed: boolean;
}

const emptySnapshot = (): Snapshot => ({
  revision: null,
  fingerprint: null,
  data: { memories: new Map(), vectors: new Map(), history: [] },
});

function damaged(file: string, reason: string, cause?: unknown): EngramError {
  return new EngramError(
    'internal',
    `${file} is damaged: ${reason}. Engram will neither read nor overwrite it; fix it or restore it from a backup.`,
    { details: { file }, cause },
  );
}

function ioError(action: string, file: string, cause: unknown): EngramError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
  return new EngramError('unavailable', `could not ${action} ${file} (${code})`, { details: { file }, cause });
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw damaged(file, `it is not valid JSON (${(error as Error).message})`, error);
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'its content does not match the expected shape';
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}

function readDocument(kind: FileKind, text: string, file: string): unknown {
  const migrated = migrateDocument(kind, parseJson(text, file), file);
  if (!migrated.ok) throw migrated.error;
  return migrated.document;
}

function parseUserFile(text: string, file: string, userId: string, fingerprint: string): Snapshot {
  const parsed = userFileSchema.safeParse(readDocument('user', text, file));
  if (!parsed.success) throw damaged(file, firstIssue(parsed.error), parsed.error);
  const doc = parsed.data;
  if (doc.userId !== userId) throw damaged(file, `it belongs to user ${JSON.stringify(doc.userId)}`);
  const data: UserData = { memories: new Map(), vectors: new Map(), history: doc.history };
  for (const memory of doc.memories) {
    if (memory.userId !== userId) throw damaged(file, `memory ${memory.id} belongs to another user`);
    if (data.memories.has(memory.id)) throw damaged(file, `memory ${memory.id} appears twice`);
    const vector = decodeVector(doc.vectors[memory.id]);
    if (!vector) throw damaged(file, `memory ${memory.id} has no valid vector`);
    data.memories.set(memory.id, memory);
    data.vectors.set(memory.id, vector);
  }
  if (doc.history.some((entry) => entry.userId !== userId))
    throw damaged(file, 'a history entry belongs to another user');
  return { revision: doc.revision, fingerprint, data };
}

function parseStoreFile(text: string, file: string): StoreFile {
  const parsed = storeFileSchema.safeParse(readDocument('store', text, file));
  if (!parsed.success) throw damaged(file, firstIssue(parsed.error), parsed.error);
  return parsed.data;
}

const encodedVectors = new WeakMap<Float32Array, string>();

/** Base64 of the float32 little-endian bytes; memoised because stored vectors are never mutated. */
function encodeVector(vector: Float32Array): string {
  const known = encodedVectors.get(vector);
  if (known !== undefined) return known;
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  const text = bytes.toString('base64');
  encodedVectors.set(vector, text);
  return text;
}

function decodeVector(text: string | undefined): Float32Array | null {
  if (text === undefined) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0 || bytes.toString('base64') !== text) return null;
  const vector = new Float32Array(bytes.length / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
  encodedVectors.set(vector, text);
  return vector;
}

function serializeUser(userId: string, revision: string, data: UserData, pretty: boolean): string {
  const memories = [...data.memories.values()].sort(byId);
  const vectors = Object.fromEntries(
    memories.map((memory) => [memory.id, encodeVector(data.vectors.get(memory.id) ?? new Float32Array(0))]),
  );
  const doc = { format: CURRENT_FORMAT, revision, userId, memories, vectors, history: data.history };
  return `${JSON.stringify(doc, null, pretty ? 2 : undefined)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Disk I/O

function fingerprintOf(info: { ino: number; size: number; mtimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

/** The revision token near the start of a user file, read without parsing the whole file. */
async function readRevision(handle: FileHandle): Promise<string | null> {
  const buffer = Buffer.alloc(REVISION_HEAD_BYTES);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  const match = /"revision"\s*:\s*"([^"]{1,64})"/.exec(buffer.toString('utf8', 0, bytesRead));
  return match?.[1] ?? null;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `text` so that readers see the old or the new content, never a mix:
 * temp file in the same directory, fsync, rename over, fsync the directory. Returns the new fingerprint.
 */
async function writeAtomic(file: string, text: string, beforeCommit: () => void): Promise<string> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  let committed = false;
  try {
    const handle = await open(temp, 'wx', 0o600);
    let fingerprint: string;
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
      fingerprint = fingerprintOf(await handle.stat());
    } finally {
      await handle.close();
    }
    beforeCommit();
    await rename(temp, file);
    committed = true;
    await syncDir(dir);
    return fingerprint;
  } catch (error) {
    if (!committed) await unlink(temp).catch(() => undefined);
    if (error instanceof EngramError) throw error;
    throw ioError('write', file, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Ranking helpers

interface DocTerms {
  counts: Map<string, number>;
  length: number;
}

const docTermsCache = new WeakMap<Memory, DocTerms>();

/** Term frequencies of a memory's content; memoised because stored memories are never mutated. */
function docTerms(memory: Memory): DocTerms {
  const known = docTermsCache.get(memory);
  if (known) return known;
  const tokens = words(memory.content);
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  const terms = { counts, length: tokens.length };
  docTermsCache.set(memory, terms);
  return terms;
}

/** Okapi BM25 (k1 = 1.2, b = 0.75) over `docs`, with the non-negative idf of Lucene; offers every match to `top`. */
function bm25(docs: Memory[], terms: string[], top: TopK): void {
  const stats = docs.map(docTerms);
  const averageLength = stats.reduce((sum, doc) => sum + doc.length, 0) / Math.max(1, stats.length) || 1;
  const idf = terms.map((term) => {
    const df = stats.filter((doc) => doc.counts.has(term)).length;
    return { term, weight: Math.log(1 + (docs.length - df + 0.5) / (df + 0.5)) };
  });
  docs.forEach((memory, index) => {
    const doc = stats[index] as DocTerms;
    const norm = BM25_K1 * (1 - BM25_B + (BM25_B * doc.length) / averageLength);
    let score = 0;
    for (const { term, weight } of idf) {
      const tf = doc.counts.get(term) ?? 0;
      if (tf > 0) score += (weight * tf * (BM25_K1 + 1)) / (tf + norm);
    }
    if (score > 0) top.offer(memory.id, score);
  });
}

/** Keeps the `limit` best (id, score) pairs offered, best first; equal scores put the newer id first. */
class TopK {
  readonly #limit: number;
  readonly #items: { id: string; score: number }[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  offer(id: string, score: number): void {
    const items = this.#items;
    const last = items[items.length - 1];
    if (items.length >= this.#limit && (last === undefined || !outranks(id, score, last))) return;
    let low = 0;
    let high = items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (outranks(id, score, items[mid] as { id: string; score: number })) high = mid;
      else low = mid + 1;
    }
    items.splice(low, 0, { id, score });
    if (items.length > this.#limit) items.pop();
  }

  best(): { id: string; score: number }[] {
    return this.#items;
  }
}

function outranks(id: string, score: number, other: { id: string; score: number }): boolean {
  return score > other.score || (score === other.score && id > other.id);
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function ascending(snapshot: Snapshot): Memory[] {
  snapshot.ascending ??= [...snapshot.data.memories.values()].sort(byId);
  return snapshot.ascending;
}

const cloneMemory = (memory: Memory): Memory => structuredClone(memory);
const cloneEntry = (entry: HistoryEntry): HistoryEntry => structuredClone(entry);

// ---------------------------------------------------------------------------------------------
// The store

type State = 'new' | 'open' | 'closed';

/** The `json` MemoryStore: one human-readable file per user, safe for several processes on one data dir. */
export class JsonStore implements MemoryStore {
  readonly name = 'json';
  readonly #config: JsonStoreConfig;
  readonly #layout: Layout;
  readonly #local = new KeyedLock();
  readonly #cache = new Map<string, Snapshot>();
  readonly #inflight = new Set<Promise<unknown>>();
  #state: State = 'new';
  #opening: Promise<void> | null = null;

  constructor(config: JsonStoreConfig) {
    this.#config = config;
    this.#layout = new Layout(config.dataDir);
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
    this.#cache.clear();
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    return this.#track(async () => {
      const info = (await this.#readStoreFile())?.embedding;
      return info ? { model: info.model, dimension: info.dimension } : null;
    });
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    return this.#track(() =>
      this.#withLock(this.#layout.storeLock, async (beforeCommit) => {
        const current = (await this.#readStoreFile()) ?? newStoreFile();
        const next = { ...current, embedding: { model: info.model, dimension: info.dimension } };
        await this.#writeStoreFile(next, beforeCommit);
      }),
    );
  }

  async insert(records: MemoryRecord[], history: HistoryEntry[]): Promise<void> {
    if (records.length === 0 && history.length === 0) return;
    const userId = singleUser(records, history);
    return this.#mutate(userId, (data) => {
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

  async findByHash(userId: string, hash: string): Promise<Memory | null> {
    return this.#read(userId, (snapshot) => {
      const memory = ascending(snapshot).find((candidate) => candidate.hash === hash);
      return memory ? cloneMemory(memory) : null;
    });
  }

  async list(userId: string, options: ListOptions): Promise<Page<Memory>> {
    const before = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const limit = Math.max(0, Math.floor(options.limit));
    return this.#read(userId, (snapshot) => {
      const memories = ascending(snapshot);
      const items: Memory[] = [];
      let more = false;
      for (let i = memories.length - 1; i >= 0; i--) {
        const memory = memories[i] as Memory;
        if (before !== null && memory.id >= before) continue;
        if (!matchesFilter(memory, options.filter)) continue;
        if (items.length === limit) {
          more = true;
          break;
        }
        items.push(cloneMemory(memory));
      }
      const last = items.at(-1);
      return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
    });
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    checkEntry(history, memory.userId, memory.id);
    return this.#mutate(memory.userId, (data) => {
      if (!data.memories.has(memory.id)) throw notFound('memory', memory.id);
      data.memories.set(memory.id, cloneMemory(memory));
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

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    return this.#read(userId, (snapshot) =>
      snapshot.data.history.filter((entry) => entry.memoryId === memoryId).map(cloneEntry),
    );
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    return this.#read(userId, (snapshot) => {
      const counts = new Map<string, number>();
      for (const memory of visible(snapshot, filter))
        counts.set(memory.category, (counts.get(memory.category) ?? 0) + 1);
      return [...counts]
        .map(([category, count]) => ({ category, count }))
        .sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
    });
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    const wanted = [...new Set(terms)].filter((term) => term.length > 0);
    return this.#read(userId, (snapshot) => {
      const top = new TopK(limit);
      if (wanted.length > 0) bm25(visible(snapshot, filter), wanted, top);
      return top.best();
    });
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    return this.#read(userId, (snapshot) => {
      const top = new TopK(limit);
      for (const memory of visible(snapshot, filter)) {
        const stored = snapshot.data.vectors.get(memory.id);
        if (stored?.length === vector.length) top.offer(memory.id, cosine(vector, stored));
      }
      return top.best().map(({ id, score }) => ({ id, similarity: score }));
    });
  }

  async purgeUser(userId: string): Promise<number> {
    const dir = this.#layout.userDir(userId);
    return this.#track(() =>
      this.#withLock(this.#layout.userLock(userId), async () => {
        // Erasure must succeed even when the file is damaged; the count is then unknown (0).
        const count = await this.#readUser(userId).then(
          (snapshot) => snapshot.data.memories.size,
          () => 0,
        );
        await this.#removeDir(dir);
        this.#cache.delete(userId);
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
        const count = (await this.#readUser(userId)).data.memories.size;
        memories += count;
        if (count > 0) users++;
        bytes += await fileSize(this.#layout.userFile(userId));
      }
      return { memories, users, bytes };
    });
  }

  // -- lifecycle ------------------------------------------------------------------------------

  async #open(): Promise<void> {
    try {
      await mkdir(this.#layout.locksDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw ioError('create', this.#layout.locksDir, error);
    }
    await this.#withLock(this.#layout.storeLock, async (beforeCommit) => {
      const current = await this.#readStoreFile();
      if (current === null) await this.#writeStoreFile(newStoreFile(), beforeCommit);
    });
    this.#cache.clear();
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
    return this.#track(async () => view(await this.#readUser(userId)));
  }

  /** A read-modify-write of one user's file under that user's lock; the change sees the file as it is now. */
  #mutate<T>(userId: string, change: (data: UserData) => MutationOutcome<T>): Promise<T> {
    const lock = this.#layout.userLock(userId);
    return this.#track(() =>
      this.#withLock(lock, async (beforeCommit) => {
        const current = await this.#readUser(userId);
        const draft: UserData = {
          memories: new Map(current.data.memories),
          vectors: new Map(current.data.vectors),
          history: current.data.history.slice(),
        };
        const outcome = change(draft);
        if (outcome.changed) await this.#writeUser(userId, draft, beforeCommit);
        return outcome.result;
      }),
    );
  }

  /** The user's current file, from the cache when its fingerprint and revision token still match. */
  async #readUser(userId: string): Promise<Snapshot> {
    const file = this.#layout.userFile(userId);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw ioError('read', file, error);
      this.#cache.delete(userId);
      return emptySnapshot();
    }
    try {
      const fingerprint = fingerprintOf(await handle.stat());
      const cached = this.#cache.get(userId);
      if (cached?.fingerprint === fingerprint && cached.revision === (await readRevision(handle))) return cached;
      const snapshot = parseUserFile(await handle.readFile('utf8'), file, userId, fingerprint);
      this.#cache.set(userId, snapshot);
      return snapshot;
    } catch (error) {
      if (error instanceof EngramError) throw error;
      throw ioError('read', file, error);
    } finally {
      await handle.close();
    }
  }

  async #writeUser(userId: string, data: UserData, beforeCommit: () => void): Promise<void> {
    const file = this.#layout.userFile(userId);
    const dir = dirname(file);
    try {
      const created = await mkdir(dir, { recursive: true, mode: 0o700 });
      if (created !== undefined) await syncDir(this.#layout.root);
    } catch (error) {
      throw ioError('create', dir, error);
    }
    const revision = randomUUID();
    const fingerprint = await writeAtomic(
      file,
      serializeUser(userId, revision, data, this.#config.pretty),
      beforeCommit,
    );
    this.#cache.set(userId, { revision, fingerprint, data });
  }

  async #readStoreFile(): Promise<StoreFile | null> {
    const file = this.#layout.storeFile;
    let text: string;
    try {
      const handle = await open(file, 'r');
      try {
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw ioError('read', file, error);
    }
    return parseStoreFile(text, file);
  }

  async #writeStoreFile(content: StoreFile, beforeCommit: () => void): Promise<void> {
    const text = `${JSON.stringify({ ...content, format: CURRENT_FORMAT }, null, 2)}\n`;
    await writeAtomic(this.#layout.storeFile, text, beforeCommit);
  }

  /** Moves the directory aside in one rename (so no half-deleted user is ever visible), then deletes it. */
  async #removeDir(dir: string): Promise<void> {
    const trash = join(this.#layout.root, `.trash-${randomUUID()}`);
    try {
      await rename(dir, trash);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw ioError('remove', dir, error);
    }
    await syncDir(this.#layout.root);
    await rm(trash, { recursive: true, force: true });
  }

  async #userIds(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.#layout.root, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw ioError('list', this.#layout.root, error);
    }
    return entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => this.#layout.userIdOf(entry.name))
      .filter((userId): userId is string => userId !== null)
      .sort();
  }

  // -- locking --------------------------------------------------------------------------------

  /**
   * Runs `work` holding the lock `target` against this process (KeyedLock) and other processes
   * (proper-lockfile). `work` gets a check to call right before committing: it throws if the lock was lost.
   */
  #withLock<T>(target: string, work: (beforeCommit: () => void) => Promise<T>): Promise<T> {
    return this.#local.run(target, async () => {
      let lost: Error | null = null;
      const release = await this.#acquire(target, (error) => {
        lost = error;
      });
      const beforeCommit = (): void => {
        if (lost) {
          throw new EngramError('store_locked', `lost the lock on ${target} while writing; nothing was changed`, {
            cause: lost,
          });
        }
      };
      try {
        return await work(beforeCommit);
      } finally {
        await release().catch(() => undefined);
      }
    });
  }

  async #acquire(target: string, onCompromised: (error: Error) => void): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.#config.lockTimeoutMs;
    const options = { realpath: false, stale: this.#config.lockStaleMs, retries: 0, onCompromised };
    for (let attempt = 0; ; attempt++) {
      try {
        return await lockfile.lock(target, options);
      } catch (error) {
        if (isErrno(error, 'ENOENT') && attempt === 0) {
          await mkdir(this.#layout.locksDir, { recursive: true, mode: 0o700 });
          continue;
        }
        if (!isErrno(error, 'ELOCKED')) throw ioError('lock', target, error);
        if (Date.now() >= deadline) {
          throw new EngramError(
            'store_locked',
            `another writer has held ${target}.lock for over ${this.#config.lockTimeoutMs} ms; try again later`,
            { details: { lock: `${target}.lock` } },
          );
        }
        await sleep(Math.min(50, 2 * 1.5 ** attempt) * (0.5 + Math.random()));
      }
    }
  }
}

function newStoreFile(): StoreFile {
  return { format: CURRENT_FORMAT, createdAt: new Date().toISOString(), embedding: null };
}

function visible(snapshot: Snapshot, filter: StoreFilter): Memory[] {
  return ascending(snapshot).filter((memory) => matchesFilter(memory, filter));
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 0;
    throw ioError('stat', file, error);
  }
}

/** One insert writes one user's file, so that it stays all-or-nothing. */
function singleUser(records: MemoryRecord[], history: HistoryEntry[]): string {
  const userIds = new Set([...records.map((record) => record.memory.userId), ...history.map((entry) => entry.userId)]);
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
