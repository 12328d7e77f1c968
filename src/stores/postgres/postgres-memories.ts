import type pg from 'pg';
import { vectorFromSql } from 'pgvector/utils';
import type { Neighbours } from '../../core/conversation-context.js';
import { EngramError } from '../../core/errors.js';
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
import {
  duplicateContent,
  type InsertOptions,
  type ListOptions,
  type MemoryRecords,
  uniqueCandidates,
} from '../store.js';
import { type PostgresDb, prepared, type Scope } from './postgres-db.js';
import { filterPg } from './postgres-filter.js';
import { appendHistory } from './postgres-history.js';
import {
  fromRow,
  INSERT_MEMORIES,
  insertParams,
  MEMORY_COLUMNS_SQL,
  type MemoryRow,
  REWRITE_MEMORY,
  rewriteParams,
} from './postgres-rows.js';

/** Inserted rows after which the store refreshes the planner's statistics itself. */
const ANALYZE_EVERY = 2_000;

/**
 * The PostgreSQL store's memories (`MemoryRecords`), each statement in a transaction acting for
 * the memory's user.
 */
export class PostgresMemories implements MemoryRecords {
  readonly #db: PostgresDb;
  /** Rows inserted since this process last refreshed the planner's statistics. */
  #insertedSinceAnalyze = 0;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  async insert(
    records: MemoryRecord[],
    history: HistoryEntry[],
    changed: Memory[] = [],
    options: InsertOptions = {},
  ): Promise<void> {
    if (records.length === 0 && history.length === 0 && changed.length === 0) return;
    const unique = uniqueCandidates(records, options.uniqueAt);
    const users = new Set([
      ...records.map((r) => r.memory.userId),
      ...history.map((h) => h.userId),
      ...changed.map((m) => m.userId),
    ]);
    const scope: Scope = users.size === 1 ? { user: [...users][0] as string } : 'all';
    await this.#db.tx(scope, async (db) => {
      if (unique.length > 0) {
        // Adds that must be unique take the user's lock for the rest of the transaction, so two
        // replicas adding the same content check one after the other.
        const userId = (unique[0] as Memory).userId;
        await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`engram:add:${userId}`]);
        const { rows } = await db.query<{ hash: string }>(
          `SELECT DISTINCT hash FROM memories WHERE user_id = $1 AND hash = ANY($2::text[]) AND superseded_by IS NULL
             AND (expires_at IS NULL OR expires_at > $3)`,
          [userId, unique.map((memory) => memory.hash), options.uniqueAt],
        );
        if (rows.length > 0) throw duplicateContent(rows.map((row) => row.hash));
      }
      for (const memory of changed) await replaceRow(db, memory, null);
      if (records.length > 0) await db.query(INSERT_MEMORIES, insertParams(records));
      await appendHistory(db, history);
    });
    this.#insertedSinceAnalyze += records.length;
    if (this.#insertedSinceAnalyze >= ANALYZE_EVERY) {
      // After a bulk load the planner has no statistics until autovacuum gets to the table, and
      // without them the keyword query can take seconds; refresh them now (in the background).
      this.#insertedSinceAnalyze = 0;
      void this.#db.pool?.query('ANALYZE memories, memory_terms, memory_terms_df').catch(() => undefined);
    }
  }

  async get(userId: string, id: string): Promise<Memory | null> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<MemoryRow>(
        `SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE m.user_id = $1 AND m.id = $2`,
        [userId, id],
      );
      return rows[0] ? fromRow(rows[0]) : null;
    });
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    if (ids.length === 0) return [];
    return this.#db.read({ user: userId }, async (db) => {
      const { rows } = await db.query<MemoryRow>(
        prepared(`SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE m.user_id = $1 AND m.id = ANY($2::text[])`, [
          userId,
          ids,
        ]),
      );
      const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
      return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []);
    });
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    return this.#db.tx({ user: userId }, async (db) => {
      const where = filterPg(userId, filter, 1);
      const { rows } = await db.query<MemoryRow>(
        `SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE m.hash = $1 AND ${where.sql} ORDER BY m.id LIMIT 1`,
        [hash, ...where.params],
      );
      return rows[0] ? fromRow(rows[0]) : null;
    });
  }

  async findByHashes(userId: string, hashes: string[], filter: StoreFilter): Promise<Map<string, Memory>> {
    const found = new Map<string, Memory>();
    if (hashes.length === 0) return found;
    return this.#db.tx({ user: userId }, async (db) => {
      const where = filterPg(userId, filter, 1);
      const { rows } = await db.query<MemoryRow>(
        `SELECT DISTINCT ON (m.hash) ${MEMORY_COLUMNS_SQL} FROM memories m
         WHERE m.hash = ANY($1::text[]) AND ${where.sql} ORDER BY m.hash, m.id`,
        [[...new Set(hashes)], ...where.params],
      );
      for (const row of rows) found.set(row.hash, fromRow(row));
      return found;
    });
  }

  async list(userId: string, options: ListOptions): Promise<Page<Memory>> {
    return this.#db.tx({ user: userId }, async (db) => {
      const where = filterPg(userId, options.filter);
      const params = [...where.params];
      let sql = where.sql;
      if (options.cursor !== undefined) {
        params.push(decodeCursor(options.cursor));
        sql += ` AND m.id < $${params.length}`;
      }
      const limit = Math.max(0, Math.floor(options.limit));
      params.push(limit + 1);
      const { rows } = await db.query<MemoryRow>(
        `SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE ${sql} ORDER BY m.id DESC LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, limit).map(fromRow);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
    });
  }

  async update(memory: Memory, vector: Float32Array | null, history: HistoryEntry): Promise<void> {
    await this.#db.tx({ user: memory.userId }, async (db) => {
      await replaceRow(db, memory, vector);
      await appendHistory(db, [history]);
    });
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rowCount } = await db.query('DELETE FROM memories WHERE user_id = $1 AND id = $2', [userId, id]);
      if (!rowCount) return false;
      await appendHistory(db, [history]);
      return true;
    });
  }

  async forget(userId: string, id: string): Promise<boolean> {
    return this.#db.tx({ user: userId }, async (db) => {
      const memory = await db.query('DELETE FROM memories WHERE user_id = $1 AND id = $2', [userId, id]);
      const history = await db.query('DELETE FROM history WHERE user_id = $1 AND memory_id = $2', [userId, id]);
      await db.query('DELETE FROM jobs WHERE user_id = $1 AND result IS NOT NULL AND strpos(result::text, $2) > 0', [
        userId,
        memoryNeedle(id),
      ]);
      return (memory.rowCount ?? 0) + (history.rowCount ?? 0) > 0;
    });
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    await this.#db.tx({ user: userId }, async (db) => {
      await db.query(
        `UPDATE memories m SET access_count = m.access_count + t.count,
           last_accessed_at = CASE WHEN m.last_accessed_at IS NULL OR m.last_accessed_at < $3 THEN $3
             ELSE m.last_accessed_at END
         FROM unnest($1::text[], $2::integer[]) AS t(id, count)
         WHERE m.user_id = $4 AND m.id = t.id`,
        [[...accesses.keys()], [...accesses.values()], at, userId],
      );
    });
  }

  async neighbours(
    userId: string,
    ids: string[],
    window: number,
    filter: StoreFilter,
  ): Promise<Map<string, Neighbours>> {
    const result = new Map<string, Neighbours>();
    if (ids.length === 0 || window < 1) return result;
    return this.#db.read({ user: userId }, async (db) => {
      // One round trip: for each visible anchor with a session, two index walks (LATERAL) over
      // (user_id, session_id, created_at, id), each ranked nearest first.
      const anchorWhere = filterPg(userId, filter, 2, 'a').sql;
      const where = filterPg(userId, filter, 2);
      const side = (before: boolean) => `
        SELECT a.id AS anchor, ${before ? "'before'" : "'after'"} AS side, n.id, n.k
        FROM memories a CROSS JOIN LATERAL (
          SELECT m.id, row_number() OVER (ORDER BY m.created_at ${before ? 'DESC' : ''}, m.id ${before ? 'DESC' : ''}) AS k
          FROM memories m
          WHERE ${where.sql} AND m.session_id = a.session_id AND (m.created_at, m.id) ${before ? '<' : '>'} (a.created_at, a.id)
          ORDER BY m.created_at ${before ? 'DESC' : ''}, m.id ${before ? 'DESC' : ''} LIMIT $2
        ) n
        WHERE a.id = ANY($1::text[]) AND a.session_id IS NOT NULL AND ${anchorWhere}`;
      const { rows: anchors } = await db.query<{ id: string }>(
        prepared(
          `SELECT a.id FROM memories a WHERE a.id = ANY($1::text[]) AND a.session_id IS NOT NULL AND $2::int > 0 AND ${anchorWhere}`,
          [[...new Set(ids)], window, ...where.params],
        ),
      );
      for (const anchor of anchors) result.set(anchor.id, { before: [], after: [] });
      const { rows } = await db.query<{ anchor: string; side: 'before' | 'after'; id: string; k: string }>(
        prepared(`${side(true)} UNION ALL ${side(false)} ORDER BY 1, 2, 4`, [
          [...new Set(ids)],
          window,
          ...where.params,
        ]),
      );
      for (const row of rows) result.get(row.anchor)?.[row.side].push(row.id);
      return result;
    });
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    return this.#db.tx({ user: userId }, async (db) => {
      const where = filterPg(userId, filter);
      const { rows } = await db.query<{ category: string; count: string }>(
        `SELECT m.category AS category, count(*) AS count FROM memories m WHERE ${where.sql}
         GROUP BY m.category ORDER BY m.category`,
        where.params,
      );
      return rows.map((row) => ({ category: row.category, count: Number(row.count) }));
    });
  }

  async addedPerDay(userId: string, filter: StoreFilter): Promise<DayCount[]> {
    return this.#db.tx({ user: userId }, async (db) => {
      const where = filterPg(userId, filter);
      const { rows } = await db.query<{ day: string; count: string }>(
        `SELECT left(m.created_at, 10) AS day, count(*) AS count FROM memories m WHERE ${where.sql}
         GROUP BY day ORDER BY day`,
        where.params,
      );
      return rows.map((row) => ({ day: row.day, count: Number(row.count) }));
    });
  }

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    return this.#db.tx('all', async (db) => {
      const { rows } = await db.query<{ user_id: string; id: string }>(
        `SELECT user_id, id FROM memories WHERE expires_at IS NOT NULL AND expires_at <= $1
         ORDER BY expires_at, id LIMIT $2`,
        [now, limit],
      );
      return rows.map((row) => ({ userId: row.user_id, id: row.id }));
    });
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    const scope: Scope = userId === undefined ? 'all' : { user: userId };
    for await (const rows of this.#db.cursor<MemoryRow & { embedding: string }>(
      scope,
      `SELECT ${MEMORY_COLUMNS_SQL}, m.embedding::text AS embedding FROM memories m
       ${userId === undefined ? '' : 'WHERE m.user_id = $1'} ORDER BY m.id`,
      userId === undefined ? [] : [userId],
      500,
    )) {
      for (const row of rows) {
        yield { memory: fromRow(row), vector: Float32Array.from(vectorFromSql(row.embedding) as number[]) };
      }
    }
  }
}

/** Rewrites a memory's columns (not created_at, not its access statistics); a vector replaces the stored one when given. */
async function replaceRow(db: pg.PoolClient, memory: Memory, vector: Float32Array | null): Promise<void> {
  const { rowCount } = await db.query(REWRITE_MEMORY, rewriteParams(memory, vector));
  if (!rowCount) throw new EngramError('not_found', `memory ${JSON.stringify(memory.id)} was not found`);
}
