/**
 * The SQLite store's memories (`MemoryRecords`): short indexed statements on the main connection;
 * inserts on the writer thread when the store has one (sqlite-writer.ts).
 */
import type { Neighbours } from '../../core/conversation-context.js';
import { decodeCursor, encodeCursor } from '../../core/filter.js';
import type {
  CategoryCount,
  DayCount,
  HistoryEntry,
  Memory,
  MemoryRecord,
  Page,
  StoreFilter,
} from '../../core/types.js';
import { memoryNeedle } from '../jobs-columns.js';
import type { InsertOptions, ListOptions, MemoryRecords } from '../store.js';
import type { SqliteDb } from './sqlite-db.js';
import { filterSql } from './sqlite-filter.js';
import { bytesVector, fromRow, MEMORY_COLUMNS, type MemoryRow, vectorBytes } from './sqlite-rows.js';
import { forgetTerms } from './sqlite-terms.js';
import { appendHistory, type InsertTask, insertRecords, replaceMemory } from './sqlite-writes.js';

/**
 * The duplicate lookup of a batch add: the memories matching `where` whose hash is one of a JSON
 * array's. No ORDER BY (the caller keeps the oldest per hash): with one, a database without planner
 * statistics (every database until its first clean close) walks all the user's rows in id order
 * through memories_user_id instead of looking each hash up in memories_user_hash, and each batch
 * add cost more as the user grew.
 */
export const hashLookupSql = (where: string): string =>
  `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where} AND m.hash IN (SELECT value FROM json_each(?))`;

export class SqliteMemories implements MemoryRecords {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  async insert(
    records: MemoryRecord[],
    history: HistoryEntry[],
    changed: Memory[] = [],
    options: InsertOptions = {},
  ): Promise<void> {
    const db = this.#db.conn;
    const task: InsertTask = { records, history, changed, uniqueAt: options.uniqueAt };
    if (!this.#db.config.writer) {
      db.transaction(() => insertRecords(this.#db.statements, task)).immediate();
      return;
    }
    await this.#db.writer().insert(task);
  }

  async get(userId: string, id: string): Promise<Memory | null> {
    const row = this.#db
      .prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.user_id = ? AND m.id = ?`)
      .get(userId, id) as MemoryRow | undefined;
    return row ? fromRow(row) : null;
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    if (ids.length === 0) return [];
    const rows = this.#db
      .prepare(
        `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.user_id = ? AND m.id IN (SELECT value FROM json_each(?))`,
      )
      .all(userId, JSON.stringify(ids)) as MemoryRow[];
    const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    const where = filterSql(userId, filter);
    const row = this.#db
      .prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where.sql} AND m.hash = ? ORDER BY m.id LIMIT 1`)
      .get(...where.params, hash) as MemoryRow | undefined;
    return row ? fromRow(row) : null;
  }

  async findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>> {
    const found = new Map<string, Memory>();
    if (hashes.length === 0) return found;
    const where = filterSql(userId, filter);
    const rows = this.#db
      .prepare(hashLookupSql(where.sql))
      .all(...where.params, JSON.stringify([...new Set(hashes)])) as MemoryRow[];
    const oldest = new Map<string, MemoryRow>();
    for (const row of rows) {
      const kept = oldest.get(row.hash);
      if (!kept || row.id < kept.id) oldest.set(row.hash, row);
    }
    for (const [hash, row] of oldest) found.set(hash, fromRow(row));
    return found;
  }

  async list(userId: string, options: ListOptions): Promise<Page<Memory>> {
    const where = filterSql(userId, options.filter);
    if (options.cursor !== undefined) {
      where.sql += ' AND m.id < ?';
      where.params.push(decodeCursor(options.cursor));
    }
    const rows = this.#db
      .prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${where.sql} ORDER BY m.id DESC LIMIT ?`)
      .all(...where.params, options.limit + 1) as MemoryRow[];
    const items = rows.slice(0, options.limit).map(fromRow);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    const db = this.#db.conn;
    db.transaction(() => {
      const rowid = replaceMemory(this.#db.statements, memory);
      if (vector) this.#db.prepare('UPDATE vectors SET embedding = ? WHERE rowid = ?').run(vectorBytes(vector), rowid);
      appendHistory(this.#db.statements, [history]);
    }).immediate();
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    const db = this.#db.conn;
    return db
      .transaction(() => {
        const deleted = this.#deleteRow(userId, id);
        if (deleted) appendHistory(this.#db.statements, [history]);
        return deleted;
      })
      .immediate();
  }

  async forget(userId: string, id: string): Promise<boolean> {
    const db = this.#db.conn;
    return db
      .transaction(() => {
        const memory = this.#deleteRow(userId, id) ? 1 : 0;
        const history = this.#db
          .prepare('DELETE FROM history WHERE user_id = ? AND memory_id = ?')
          .run(userId, id).changes;
        this.#db
          .prepare('DELETE FROM jobs WHERE user_id = ? AND result IS NOT NULL AND instr(result, ?) > 0')
          .run(userId, memoryNeedle(id));
        return memory + history > 0;
      })
      .immediate();
  }

  /** Deletes a memory's row (the delete trigger takes its vector and keyword-index entry) and its word counts. */
  #deleteRow(userId: string, id: string): boolean {
    const row = this.#db
      .prepare('DELETE FROM memories WHERE user_id = ? AND id = ? RETURNING content')
      .get(userId, id) as { content: string } | undefined;
    if (row) forgetTerms(this.#db.statements, userId, row.content);
    return row !== undefined;
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    const db = this.#db.conn;
    const statement = this.#db.prepare(
      `UPDATE memories SET access_count = access_count + ?,
         last_accessed_at = CASE WHEN last_accessed_at IS NULL OR last_accessed_at < ? THEN ? ELSE last_accessed_at END
       WHERE user_id = ? AND id = ?`,
    );
    db.transaction(() => {
      for (const [id, count] of accesses) statement.run(count, at, at, userId, id);
    }).immediate();
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
    const anchors = this.#db
      .prepare(
        `SELECT m.id AS id, m.session_id AS session, m.created_at AS at FROM memories m
         WHERE ${where.sql} AND m.session_id IS NOT NULL AND m.id IN (SELECT value FROM json_each(?))`,
      )
      .all(...where.params, JSON.stringify([...new Set(ids)])) as { id: string; session: string; at: string }[];
    // Two index walks per anchor over (user_id, session_id, created_at, id).
    const side = (direction: 'before' | 'after') =>
      this.#db.prepare(
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

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    const where = filterSql(userId, filter);
    return this.#db
      .prepare(
        `SELECT m.category AS category, count(*) AS count FROM memories m WHERE ${where.sql} GROUP BY m.category ORDER BY m.category`,
      )
      .all(...where.params) as CategoryCount[];
  }

  async addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]> {
    const where = filterSql(userId, filter);
    return this.#db
      .prepare(
        `SELECT substr(m.created_at, 1, 10) AS day, count(*) AS count FROM memories m WHERE ${where.sql} GROUP BY day ORDER BY day`,
      )
      .all(...where.params) as DayCount[];
  }

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    const rows = this.#db
      .prepare(
        `SELECT user_id, id FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
      )
      .all(now, limit) as { user_id: string; id: string }[];
    return rows.map((row) => ({ userId: row.user_id, id: row.id }));
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    let after = '';
    for (;;) {
      const rows = this.#db
        .prepare(
          `SELECT ${MEMORY_COLUMNS}, v.embedding AS embedding FROM memories m JOIN vectors v ON v.rowid = m.rowid
           WHERE m.id > ? ${userId === undefined ? '' : 'AND m.user_id = ?'} ORDER BY m.id LIMIT 500`,
        )
        .all(...(userId === undefined ? [after] : [after, userId])) as (MemoryRow & { embedding: Buffer })[];
      for (const row of rows) {
        yield { memory: fromRow(row), vector: bytesVector(row.embedding) };
      }
      const last = rows.at(-1);
      if (!last || rows.length < 500) return;
      after = last.id;
    }
  }
}
