import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import type { Neighbours } from '../../core/conversation-context.js';
import { EngramError } from '../../core/errors.js';
import { decodeCursor, encodeCursor } from '../../core/filter.js';
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
import { countsOf, memoryNeedle, settledColumns } from '../jobs-columns.js';
import {
  type DeletedOptions,
  groupHistory,
  type InsertOptions,
  type JobClaim,
  type JobOutcome,
  type ListOptions,
  type MemoryStore,
  type StoreStats,
  type UserSummary,
  type UserUsage,
} from '../store.js';
import { migrate } from './migrations.js';
import { type SqliteConfig, sqliteConfigSchema } from './sqlite-config.js';
import { filterSql } from './sqlite-filter.js';
import { type KeywordQuery, rankKeyword } from './sqlite-keyword.js';
import { SqliteReaders } from './sqlite-readers.js';
import { bytesVector, fromRow, MEMORY_COLUMNS, type MemoryRow, vectorBytes } from './sqlite-rows.js';
import { Statements } from './sqlite-statements.js';
import { SqliteWriter } from './sqlite-writer.js';
import { appendHistory, type InsertTask, insertRecords, replaceMemory } from './sqlite-writes.js';

interface JobRow {
  id: string;
  user_id: string;
  kind: string;
  status: string;
  payload: string;
  result: string | null;
  error: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
  run_after: string;
  lease: string | null;
  lease_until: string | null;
}

const JOB_COLUMNS =
  'id, user_id, kind, status, payload, result, error, attempts, created_at, updated_at, run_after, lease, lease_until';

interface HistoryRow {
  id: string;
  memory_id: string;
  user_id: string;
  event: string;
  before: string | null;
  after: string | null;
  actor: string;
  at: string;
  reason: string | null;
}

/**
 * Makes the database and its WAL and shared-memory files readable by their owner only (SQLite
 * gives the WAL and -shm files the database file's mode). A store created before this was 0644.
 */
function privateFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Not there (yet), or not ours to change: the umask of `engram` covers new files.
    }
  }
}

/**
 * The default store: one SQLite file in WAL mode. Keyword search is FTS5 (BM25, Porter stemming);
 * vector search is an exact cosine scan of the user's vectors with sqlite-vec's C distance function.
 * Both scans run on reader threads (sqlite-readers.ts), so a large user's search never stops the
 * event loop; everything else is a short indexed statement on the main connection.
 */
export class SqliteStore implements MemoryStore {
  readonly name = 'sqlite';
  readonly #config: ReturnType<typeof sqliteConfigSchema.parse>;
  #db: Database.Database | null = null;
  #readers: SqliteReaders | null = null;
  readonly #statements = new Statements(() => this.#conn);
  #writer: SqliteWriter | null = null;

  constructor(config: SqliteConfig) {
    this.#config = sqliteConfigSchema.parse(config);
  }

  async init(): Promise<void> {
    if (this.#db) return;
    mkdirSync(dirname(this.#config.path), { recursive: true, mode: 0o700 });
    const db = new Database(this.#config.path, {
      timeout: this.#config.blockingBusyMs ?? this.#config.busyTimeoutMs,
    });
    privateFiles(this.#config.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.#config.synchronous.toUpperCase()}`);
      db.pragma('foreign_keys = ON');
      sqliteVec.load(db);
      migrate(db, this.#config.path);
    } catch (error) {
      db.close();
      throw new EngramError(
        'unavailable',
        `cannot open SQLite store ${this.#config.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.#db = db;
  }

  async close(): Promise<void> {
    if (!this.#db) return;
    await this.#readers?.close().catch(() => undefined);
    this.#readers = null;
    await this.#writer?.close().catch(() => undefined);
    this.#writer = null;
    try {
      this.#db.pragma('optimize');
    } finally {
      this.#statements.clear();
      this.#db.close();
      this.#db = null;
    }
  }

  /** A heavy read (a scan): on a reader thread when the store has them, else on this one. */
  async #read<T>(sql: string, params: unknown[]): Promise<T[]> {
    const readers = this.#readerThreads();
    return readers ? readers.all<T>(sql, params) : (this.#prepare(sql).all(...params) as T[]);
  }

  /** The reader threads, started on first use; null when the store runs its scans on this thread. */
  #readerThreads(): SqliteReaders | null {
    void this.#conn; // `unavailable` once the store is closed, as on the main connection
    if (this.#config.readers === 0) return null;
    this.#readers ??= new SqliteReaders(this.#config.path, this.#config.readers, this.#config.busyTimeoutMs);
    return this.#readers;
  }

  get #conn(): Database.Database {
    if (!this.#db) throw new EngramError('unavailable', 'the SQLite store is not open');
    return this.#db;
  }

  /** A prepared statement on the main connection, kept for reuse (see `Statements`). */
  #prepare(sql: string): Database.Statement {
    return this.#statements.get(sql);
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    const row = this.#prepare(`SELECT value FROM store_meta WHERE key = 'embedding'`).get() as
      | { value: string }
      | undefined;
    return row ? (JSON.parse(row.value) as EmbeddingInfo) : null;
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    this.#prepare(
      `INSERT INTO store_meta (key, value) VALUES ('embedding', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(JSON.stringify(info));
  }

  async probeWrite(): Promise<void> {
    const db = this.#conn;
    db.transaction(() =>
      this.#prepare(
        `INSERT INTO store_meta (key, value) VALUES ('ready_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ).run(new Date().toISOString()),
    ).immediate();
  }

  async insert(
    records: MemoryRecord[],
    history: HistoryEntry[],
    changed: Memory[] = [],
    options: InsertOptions = {},
  ): Promise<void> {
    const db = this.#conn;
    const task: InsertTask = { records, history, changed, uniqueAt: options.uniqueAt };
    if (!this.#config.writer) {
      db.transaction(() => insertRecords(this.#statements, task)).immediate();
      return;
    }
    this.#writer ??= new SqliteWriter(this.#config.path, this.#config.synchronous, this.#config.busyTimeoutMs);
    await this.#writer.insert(task);
  }

  /** Rewrites a memory's fields (not its access statistics); returns its rowid. */
  #replace(memory: Memory): number {
    return replaceMemory(this.#statements, memory);
  }

  #appendHistory(entries: HistoryEntry[]): void {
    appendHistory(this.#statements, entries);
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    const db = this.#conn;
    const statement = this.#prepare(
      `UPDATE memories SET access_count = access_count + ?,
         last_accessed_at = CASE WHEN last_accessed_at IS NULL OR last_accessed_at < ? THEN ? ELSE last_accessed_at END
       WHERE user_id = ? AND id = ?`,
    );
    db.transaction(() => {
      for (const [id, count] of accesses) statement.run(count, at, at, userId, id);
    }).immediate();
  }

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    const rows = this.#prepare(
      `SELECT user_id, id FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
    ).all(now, limit) as { user_id: string; id: string }[];
    return rows.map((row) => ({ userId: row.user_id, id: row.id }));
  }

  async get(userId: string, id: string): Promise<Memory | null> {
    const row = this.#prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.user_id = ? AND m.id = ?`).get(
      userId,
      id,
    ) as MemoryRow | undefined;
    return row ? fromRow(row) : null;
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    if (ids.length === 0) return [];
    const rows = this.#prepare(
      `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.user_id = ? AND m.id IN (SELECT value FROM json_each(?))`,
    ).all(userId, JSON.stringify(ids)) as MemoryRow[];
    const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    const where = filterSql(userId, filter);
    const row = this.#prepare(
      `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where.sql} AND m.hash = ? ORDER BY m.id LIMIT 1`,
    ).get(...where.params, hash) as MemoryRow | undefined;
    return row ? fromRow(row) : null;
  }

  async findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>> {
    const found = new Map<string, Memory>();
    if (hashes.length === 0) return found;
    const where = filterSql(userId, filter);
    const rows = this.#prepare(
      `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where.sql} AND m.hash IN (SELECT value FROM json_each(?)) ORDER BY m.id`,
    ).all(...where.params, JSON.stringify([...new Set(hashes)])) as MemoryRow[];
    for (const row of rows) if (!found.has(row.hash)) found.set(row.hash, fromRow(row));
    return found;
  }

  async list(userId: string, options: ListOptions): Promise<Page<Memory>> {
    const where = filterSql(userId, options.filter);
    if (options.cursor !== undefined) {
      where.sql += ' AND m.id < ?';
      where.params.push(decodeCursor(options.cursor));
    }
    const rows = this.#prepare(
      `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where.sql} ORDER BY m.id DESC LIMIT ?`,
    ).all(...where.params, options.limit + 1) as MemoryRow[];
    const items = rows.slice(0, options.limit).map(fromRow);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    const db = this.#conn;
    db.transaction(() => {
      const rowid = this.#replace(memory);
      if (vector) this.#prepare('UPDATE vectors SET embedding = ? WHERE rowid = ?').run(vectorBytes(vector), rowid);
      this.#appendHistory([history]);
    }).immediate();
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    const db = this.#conn;
    return db
      .transaction(() => {
        const { changes } = this.#prepare('DELETE FROM memories WHERE user_id = ? AND id = ?').run(userId, id);
        if (changes > 0) this.#appendHistory([history]);
        return changes > 0;
      })
      .immediate();
  }

  async forget(userId: string, id: string): Promise<boolean> {
    const db = this.#conn;
    return db
      .transaction(() => {
        // The delete trigger takes the vector and the keyword-index entry with the row.
        const memory = this.#prepare('DELETE FROM memories WHERE user_id = ? AND id = ?').run(userId, id).changes;
        const history = this.#prepare('DELETE FROM history WHERE user_id = ? AND memory_id = ?').run(
          userId,
          id,
        ).changes;
        this.#prepare('DELETE FROM jobs WHERE user_id = ? AND result IS NOT NULL AND instr(result, ?) > 0').run(
          userId,
          memoryNeedle(id),
        );
        return memory + history > 0;
      })
      .immediate();
  }

  async compact(): Promise<void> {
    const db = this.#conn;
    // A deleted memory's words stay in the keyword index's older segments until they are merged;
    // VACUUM then rewrites the file without its free pages, and the WAL's old frames are dropped.
    db.exec(`INSERT INTO memories_fts (memories_fts) VALUES ('optimize')`);
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    const rows = this.#prepare('SELECT * FROM history WHERE user_id = ? AND memory_id = ? ORDER BY rowid').all(
      userId,
      memoryId,
    ) as HistoryRow[];
    return rows.map(historyFromRow);
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    const rows = this.#prepare(
      `SELECT * FROM history WHERE user_id = ? AND memory_id IN (SELECT value FROM json_each(?)) ORDER BY memory_id, rowid`,
    ).all(userId, JSON.stringify(memoryIds)) as HistoryRow[];
    return groupHistory(rows.map(historyFromRow));
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const params: unknown[] = [userId];
    let after = '';
    if (options.cursor !== undefined) {
      after = ' AND h.id < ?';
      params.push(decodeCursor(options.cursor));
    }
    // Each memory's last entry, when it is a delete and the memory is absent (over history_user_deletes).
    const rows = this.#prepare(
      `SELECT h.* FROM history h
         WHERE h.user_id = ? AND h.event = 'delete'${after}
           AND NOT EXISTS (SELECT 1 FROM history later
                           WHERE later.user_id = h.user_id AND later.memory_id = h.memory_id AND later.rowid > h.rowid)
           AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.user_id = h.user_id AND m.id = h.memory_id)
         ORDER BY h.id DESC LIMIT ?`,
    ).all(...params, options.limit + 1) as HistoryRow[];
    const items = rows.slice(0, options.limit).map(historyFromRow);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    // Keyset pages over the (user_id, memory_id, rowid) index.
    let after: [string, string, number] = ['', '', 0];
    const page = this.#prepare(
      `SELECT rowid AS seq, * FROM history WHERE (user_id, memory_id, rowid) > (?, ?, ?)
       ORDER BY user_id, memory_id, rowid LIMIT 1000`,
    );
    for (;;) {
      const rows = page.all(...after) as (HistoryRow & { seq: number })[];
      for (const row of rows) yield historyFromRow(row);
      const last = rows.at(-1);
      if (!last || rows.length < 1000) return;
      after = [last.user_id, last.memory_id, last.seq];
    }
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    const where = filterSql(userId, filter);
    return this.#prepare(
      `SELECT m.category AS category, count(*) AS count FROM memories m WHERE ${where.sql} GROUP BY m.category ORDER BY m.category`,
    ).all(...where.params) as CategoryCount[];
  }

  async addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]> {
    const where = filterSql(userId, filter);
    return this.#prepare(
      `SELECT substr(m.created_at, 1, 10) AS day, count(*) AS count FROM memories m WHERE ${where.sql} GROUP BY day ORDER BY day`,
    ).all(...where.params) as DayCount[];
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    if (terms.length === 0) return [];
    const where = filterSql(userId, filter);
    const query: KeywordQuery = {
      owner: `u${Buffer.from(userId, 'utf8').toString('hex')}`,
      terms,
      where: where.sql,
      params: where.params,
      limit,
    };
    // Ranked with this user's statistics only (sqlite-keyword.ts), on a reader thread when there are readers.
    const readers = this.#readerThreads();
    return readers ? readers.keyword(query) : rankKeyword(this.#statements, query);
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    const where = filterSql(userId, filter);
    // vec_distance_cosine is NULL when either vector is zero. NULLS LAST puts those rows after every
    // real distance, so dropping them from the page keeps exactly the best non-NULL ones (and the
    // distance is computed once per row, unlike a `WHERE distance IS NOT NULL`).
    const rows = await this.#read<{ id: string; distance: number | null }>(
      `SELECT m.id AS id, vec_distance_cosine(v.embedding, ?) AS distance
         FROM vectors v JOIN memories m ON m.rowid = v.rowid
         WHERE v.user_id = ? AND ${where.sql}
         ORDER BY distance NULLS LAST LIMIT ?`,
      [vectorBytes(vector), userId, ...where.params, limit],
    );
    return rows.flatMap((row) => (row.distance === null ? [] : [{ id: row.id, similarity: 1 - row.distance }]));
  }

  async neighbours(
    userId: string,
    ids: string[],
    window: number,
    filter: StoreFilter,
  ): Promise<Map<string, Neighbours>> {
    const result = new Map<string, Neighbours>();
    if (ids.length === 0 || window < 1) return result;
    const where = filterSql(userId, filter);
    const anchors = this.#prepare(
      `SELECT m.id AS id, m.session_id AS session, m.created_at AS at FROM memories m
         WHERE ${where.sql} AND m.session_id IS NOT NULL AND m.id IN (SELECT value FROM json_each(?))`,
    ).all(...where.params, JSON.stringify([...new Set(ids)])) as { id: string; session: string; at: string }[];
    // Two index walks per anchor over (user_id, session_id, created_at, id).
    const side = (direction: 'before' | 'after') =>
      this.#prepare(
        `SELECT m.id AS id FROM memories m
         WHERE ${where.sql} AND m.session_id = ? AND ${
           direction === 'before'
             ? '(m.created_at < ? OR (m.created_at = ? AND m.id < ?)) ORDER BY m.created_at DESC, m.id DESC'
             : '(m.created_at > ? OR (m.created_at = ? AND m.id > ?)) ORDER BY m.created_at, m.id'
         } LIMIT ?`,
      );
    const before = side('before');
    const after = side('after');
    const ids_ = (statement: typeof before, anchor: { id: string; session: string; at: string }) =>
      (statement.all(...where.params, anchor.session, anchor.at, anchor.at, anchor.id, window) as { id: string }[]).map(
        (row) => row.id,
      );
    for (const anchor of anchors) {
      result.set(anchor.id, { before: ids_(before, anchor), after: ids_(after, anchor) });
    }
    return result;
  }

  async purgeUser(userId: string): Promise<number> {
    const db = this.#conn;
    return db
      .transaction(() => {
        const { changes } = this.#prepare('DELETE FROM memories WHERE user_id = ?').run(userId);
        this.#prepare('DELETE FROM history WHERE user_id = ?').run(userId);
        this.#prepare('DELETE FROM vectors WHERE user_id = ?').run(userId);
        this.#prepare('DELETE FROM jobs WHERE user_id = ?').run(userId);
        return changes;
      })
      .immediate();
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    let after = '';
    for (;;) {
      const rows = this.#prepare(
        `SELECT ${MEMORY_COLUMNS}, v.embedding AS embedding FROM memories m JOIN vectors v ON v.rowid = m.rowid
           WHERE m.id > ? ${userId === undefined ? '' : 'AND m.user_id = ?'} ORDER BY m.id LIMIT 500`,
      ).all(...(userId === undefined ? [after] : [after, userId])) as (MemoryRow & { embedding: Buffer })[];
      for (const row of rows) {
        yield { memory: fromRow(row), vector: bytesVector(row.embedding) };
      }
      const last = rows.at(-1);
      if (!last || rows.length < 500) return;
      after = last.id;
    }
  }

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    const rows = this.#prepare(
      `SELECT m.id AS id, v.embedding AS embedding FROM memories m JOIN vectors v ON v.rowid = m.rowid
         WHERE m.user_id = ? AND m.id IN (SELECT value FROM json_each(?))`,
    ).all(userId, JSON.stringify(ids)) as { id: string; embedding: Buffer }[];
    return new Map(rows.map((row) => [row.id, bytesVector(row.embedding)]));
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    const db = this.#conn;
    const statement = this.#prepare(
      'UPDATE vectors SET embedding = ? WHERE rowid = (SELECT rowid FROM memories WHERE user_id = ? AND id = ?)',
    );
    db.transaction(() => {
      for (const entry of entries) statement.run(vectorBytes(entry.vector), entry.userId, entry.id);
    }).immediate();
  }

  async stats(): Promise<StoreStats> {
    const row = this.#prepare('SELECT count(*) AS memories, count(DISTINCT user_id) AS users FROM memories').get() as {
      memories: number;
      users: number;
    };
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(this.#config.path + suffix).size;
      } catch {
        // the WAL file may not exist
      }
    }
    return { ...row, bytes };
  }

  async usage(userId: string): Promise<UserUsage> {
    return this.#prepare(
      'SELECT count(*) AS memories, coalesce(sum(length(CAST(content AS BLOB))), 0) AS bytes FROM memories WHERE user_id = ?',
    ).get(userId) as UserUsage;
  }

  async users(): Promise<UserSummary[]> {
    return this.#prepare(
      `SELECT user_id AS userId, count(*) AS memories, max(created_at) AS lastAddedAt
           FROM memories GROUP BY user_id ORDER BY user_id`,
    ).all() as UserSummary[];
  }

  async enqueueJob(job: Job): Promise<void> {
    this.#prepare(
      `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (@id, @user_id, @kind, @status, @payload, @result, @error, @attempts,
           @created_at, @updated_at, @run_after, @lease, @lease_until)`,
    ).run(jobToRow(job));
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    const row = this.#prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE user_id = ? AND id = ?`).get(userId, id) as
      | JobRow
      | undefined;
    return row ? jobFromRow(row) : null;
  }

  async claimJob(claim: JobClaim): Promise<Job | null> {
    // One statement, so one write transaction: two processes on the file never take the same job.
    const row = this.#prepare(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease = @lease, lease_until = @leaseUntil,
           updated_at = @now
         WHERE rowid = (
           SELECT rowid FROM jobs INDEXED BY jobs_pending
           WHERE status IN ('queued', 'running')
             AND ((status = 'queued' AND run_after <= @now) OR (status = 'running' AND lease_until <= @now))
           ORDER BY id LIMIT 1)
         RETURNING ${JOB_COLUMNS}`,
    ).get(claim) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    const { changes } = this.#prepare(
      `UPDATE jobs SET lease_until = ? WHERE user_id = ? AND id = ? AND status = 'running' AND lease = ?`,
    ).run(leaseUntil, lease.userId, lease.id, lease.lease);
    return changes > 0;
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    const { changes } = this.#prepare(
      `UPDATE jobs SET status = @status, result = @result, error = @error, run_after = coalesce(@runAfter, run_after),
           payload = CASE WHEN @dropPayload THEN 'null' ELSE payload END,
           updated_at = @at, lease = NULL, lease_until = NULL
         WHERE user_id = @userId AND id = @id AND status = 'running' AND lease = @lease`,
    ).run({
      ...settled,
      dropPayload: settled.dropPayload ? 1 : 0,
      result: settled.result === null ? null : JSON.stringify(settled.result),
      error: settled.error === null ? null : JSON.stringify(settled.error),
      ...lease,
    });
    return changes > 0;
  }

  async jobCounts(): Promise<JobCounts> {
    const rows = this.#prepare(
      `SELECT status, count(*) AS n FROM jobs INDEXED BY jobs_pending WHERE status IN ('queued', 'running') GROUP BY status`,
    ).all() as { status: string; n: number }[];
    return countsOf(rows);
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    const { changes } = this.#prepare(
      `DELETE FROM jobs WHERE rowid IN (
           SELECT rowid FROM jobs INDEXED BY jobs_finished
           WHERE status IN ('succeeded', 'failed') AND updated_at < ? ORDER BY updated_at LIMIT ?)`,
    ).run(before, limit);
    return changes;
  }
}

function jobToRow(job: Job): JobRow {
  return {
    id: job.id,
    user_id: job.userId,
    kind: job.kind,
    status: job.status,
    payload: JSON.stringify(job.payload),
    result: job.result === null ? null : JSON.stringify(job.result),
    error: job.error === null ? null : JSON.stringify(job.error),
    attempts: job.attempts,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
    run_after: job.runAfter,
    lease: job.lease,
    lease_until: job.leaseUntil,
  };
}

function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    status: row.status as Job['status'],
    payload: JSON.parse(row.payload) as Job['payload'],
    result: row.result === null ? null : (JSON.parse(row.result) as Job['result']),
    error: row.error === null ? null : (JSON.parse(row.error) as Job['error']),
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    runAfter: row.run_after,
    lease: row.lease,
    leaseUntil: row.lease_until,
  };
}

function historyFromRow(row: HistoryRow): HistoryEntry {
  return {
    id: row.id,
    memoryId: row.memory_id,
    userId: row.user_id,
    event: row.event as HistoryEntry['event'],
    before: row.before === null ? null : (JSON.parse(row.before) as Memory),
    after: row.after === null ? null : (JSON.parse(row.after) as Memory),
    actor: row.actor,
    at: row.at,
    reason: row.reason,
  };
}
