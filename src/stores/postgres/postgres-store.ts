import pg from 'pg';
import { vectorFromSql, vectorToSql } from 'pgvector/utils';
import type { Neighbours } from '../../core/context.js';
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
import { type PostgresConfig, postgresConfigSchema } from './postgres-config.js';
import { filterPg } from './postgres-filter.js';
import { dropVectorIndexes, ensureVectorIndex, HNSW_MAX_DIMENSION, migrate } from './postgres-migrations.js';
import {
  fromRow,
  INSERT_MEMORIES,
  insertParams,
  MEMORY_COLUMNS_SQL,
  type MemoryRow,
  REWRITE_MEMORY,
  rewriteParams,
  transpose,
} from './postgres-rows.js';

interface HistoryRow {
  id: string;
  memory_id: string;
  user_id: string;
  event: HistoryEntry['event'];
  before: Memory | null;
  after: Memory | null;
  actor: string;
  at: string;
  reason: string | null;
}

function historyFromRow(row: HistoryRow): HistoryEntry {
  return {
    id: row.id,
    memoryId: row.memory_id,
    userId: row.user_id,
    event: row.event,
    before: row.before,
    after: row.after,
    actor: row.actor,
    at: row.at,
    reason: row.reason,
  };
}

interface JobRow {
  id: string;
  user_id: string;
  kind: string;
  status: Job['status'];
  payload: Job['payload'];
  result: Job['result'];
  error: Job['error'];
  attempts: number;
  created_at: string;
  updated_at: string;
  run_after: string;
  lease: string | null;
  lease_until: string | null;
}

const JOB_COLUMNS =
  'id, user_id, kind, status, payload, result, error, attempts, created_at, updated_at, run_after, lease, lease_until';

function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    status: row.status,
    payload: row.payload,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    runAfter: row.run_after,
    lease: row.lease,
    leaseUntil: row.lease_until,
  };
}

/** A JSON column's parameter: its text (pg would send a JS array as a PostgreSQL array), or null. */
const jsonParam = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/** Inserted rows after which the store refreshes the planner's statistics itself. */
const ANALYZE_EVERY = 2_000;

/** Who a transaction acts for: one user (row-level security admits only their rows), or every user. */
type Scope = { user: string } | 'all';

/**
 * PostgreSQL + pgvector: memories with their vector (`vector`, cosine distance) and a `tsvector`
 * (GIN) for keyword search, history, all in one schema. Every statement runs in a transaction
 * that sets `engram.user_id`, and row-level security admits only that user's rows — isolation
 * holds in the database, not only in this code. Keyword ranking is BM25-like: each query term
 * weighted by its inverse document frequency among the user's memories, times `ts_rank` of the
 * term (term frequency, saturating).
 */
export class PostgresStore implements MemoryStore {
  readonly name = 'postgres';
  readonly #config: ReturnType<typeof postgresConfigSchema.parse>;
  #pool: pg.Pool | null = null;
  /** Rows inserted since this process last refreshed the planner's statistics. */
  #insertedSinceAnalyze = 0;

  constructor(config: PostgresConfig) {
    this.#config = postgresConfigSchema.parse(config);
  }

  async init(): Promise<void> {
    if (this.#pool) return;
    const { url, schema, poolMax, statementTimeoutMs } = this.#config;
    const pool = new pg.Pool({
      connectionString: url,
      max: poolMax,
      statement_timeout: statementTimeoutMs,
      options: `-c search_path=${schema},public`,
      application_name: 'engram',
    });
    // An idle client that errors (server restart) must not crash the process; the pool drops it.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrate(client, schema);
        const info = await client.query<{ value: EmbeddingInfo }>(
          `SELECT value FROM ${schema}.store_meta WHERE key = 'embedding'`,
        );
        const dimension = info.rows[0]?.value.dimension;
        if (dimension !== undefined) await ensureVectorIndex(client, schema, dimension);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new EngramError('unavailable', `cannot open the PostgreSQL store: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.end();
  }

  /** Runs `work` in one transaction acting for `scope`. */
  async #tx<T>(scope: Scope, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    try {
      // One round trip: BEGIN and the setting row-level security reads (a simple-protocol query, so
      // the user id goes in as an escaped literal).
      await client.query(`BEGIN; SELECT ${this.#setting(client, scope)}`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * A query read in pages through a cursor, in one transaction (one snapshot) acting for `scope`.
   * One sort or index walk for the whole scan — page-by-page keyset queries would each re-plan
   * under row-level security, whose filter the planner cannot see through. Leaving the loop early
   * ends the transaction.
   */
  async *#cursor<R extends pg.QueryResultRow>(
    scope: Scope,
    sql: string,
    params: unknown[],
    page: number,
  ): AsyncIterable<R[]> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    let committed = false;
    try {
      await client.query(`BEGIN; SELECT ${this.#setting(client, scope)}`);
      await client.query(`DECLARE engram_scan NO SCROLL CURSOR FOR ${sql}`, params);
      for (;;) {
        const { rows } = await client.query<R>(`FETCH ${page} FROM engram_scan`);
        if (rows.length > 0) yield rows;
        if (rows.length < page) break;
      }
      await client.query('COMMIT');
      committed = true;
    } finally {
      if (!committed) await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  /** The SELECT list item that sets what row-level security reads (an escaped literal). */
  #setting(client: pg.PoolClient, scope: Scope): string {
    return scope === 'all'
      ? `set_config('engram.scope', 'all', true)`
      : `set_config('engram.user_id', ${client.escapeLiteral(scope.user)}, true)`;
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<{ value: EmbeddingInfo }>(`SELECT value FROM store_meta WHERE key = 'embedding'`);
      return rows[0]?.value ?? null;
    });
  }

  /** Records the model, and keeps the HNSW index to its dimension (see `ensureVectorIndex`). */
  async probeWrite(): Promise<void> {
    await this.#tx('all', (db) =>
      db.query(
        `INSERT INTO store_meta (key, value) VALUES ('ready_probe', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [JSON.stringify(new Date().toISOString())],
      ),
    );
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    await this.#tx('all', (db) =>
      db.query(
        `INSERT INTO store_meta (key, value) VALUES ('embedding', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [JSON.stringify(info)],
      ),
    );
    await this.#withClient((client) => ensureVectorIndex(client, this.#config.schema, info.dimension));
  }

  /** The HNSW index goes for a bulk load: building it once afterwards is several times faster. */
  async deferIndexes(): Promise<() => Promise<void>> {
    await this.#withClient((client) => dropVectorIndexes(client, this.#config.schema));
    return async () => {
      const info = await this.getEmbeddingInfo();
      if (info) await this.#withClient((client) => ensureVectorIndex(client, this.#config.schema, info.dimension));
    };
  }

  async #withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
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
    await this.#tx(scope, async (db) => {
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
      void this.#pool?.query('ANALYZE memories').catch(() => undefined);
    }
  }

  async get(userId: string, id: string): Promise<Memory | null> {
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<MemoryRow>(
        `SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE m.user_id = $1 AND m.id = $2`,
        [userId, id],
      );
      return rows[0] ? fromRow(rows[0]) : null;
    });
  }

  async getMany(userId: string, ids: string[]): Promise<Memory[]> {
    if (ids.length === 0) return [];
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<MemoryRow>(
        `SELECT ${MEMORY_COLUMNS_SQL} FROM memories m WHERE m.user_id = $1 AND m.id = ANY($2::text[])`,
        [userId, ids],
      );
      const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
      return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []);
    });
  }

  async findByHash(userId: string, hash: string, filter: StoreFilter): Promise<Memory | null> {
    return this.#tx({ user: userId }, async (db) => {
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
    return this.#tx({ user: userId }, async (db) => {
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
    return this.#tx({ user: userId }, async (db) => {
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
    await this.#tx({ user: memory.userId }, async (db) => {
      await replaceRow(db, memory, vector);
      await appendHistory(db, [history]);
    });
  }

  async touch(userId: string, accesses: ReadonlyMap<string, number>, at: string): Promise<void> {
    if (accesses.size === 0) return;
    await this.#tx({ user: userId }, async (db) => {
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

  async expired(now: string, limit: number): Promise<{ userId: string; id: string }[]> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<{ user_id: string; id: string }>(
        `SELECT user_id, id FROM memories WHERE expires_at IS NOT NULL AND expires_at <= $1
         ORDER BY expires_at, id LIMIT $2`,
        [now, limit],
      );
      return rows.map((row) => ({ userId: row.user_id, id: row.id }));
    });
  }

  async delete(userId: string, id: string, history: HistoryEntry): Promise<boolean> {
    return this.#tx({ user: userId }, async (db) => {
      const { rowCount } = await db.query('DELETE FROM memories WHERE user_id = $1 AND id = $2', [userId, id]);
      if (!rowCount) return false;
      await appendHistory(db, [history]);
      return true;
    });
  }

  async forget(userId: string, id: string): Promise<boolean> {
    return this.#tx({ user: userId }, async (db) => {
      const memory = await db.query('DELETE FROM memories WHERE user_id = $1 AND id = $2', [userId, id]);
      const history = await db.query('DELETE FROM history WHERE user_id = $1 AND memory_id = $2', [userId, id]);
      await db.query('DELETE FROM jobs WHERE user_id = $1 AND result IS NOT NULL AND strpos(result::text, $2) > 0', [
        userId,
        memoryNeedle(id),
      ]);
      return (memory.rowCount ?? 0) + (history.rowCount ?? 0) > 0;
    });
  }

  async compact(): Promise<void> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    try {
      // VACUUM FULL writes each table (and its indexes) anew and drops the old files; it cannot run
      // in a transaction, holds an exclusive lock per table while it runs, and may take longer than
      // the statement timeout of ordinary queries.
      // PostgreSQL skips, with only a warning, a table the role may not vacuum (it must act as the
      // table's owner or the database's, or be a superuser): say so instead.
      const { rows } = await client.query<{ relname: string }>(
        `SELECT relname FROM pg_class
         WHERE oid IN ('memories'::regclass, 'history'::regclass, 'jobs'::regclass)
           AND NOT pg_has_role(relowner, 'USAGE')
           AND NOT pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
         ORDER BY array_position(ARRAY['memories', 'history', 'jobs'], relname::text)`,
      );
      if (rows.length > 0) {
        throw new EngramError(
          'forbidden',
          `cannot compact: this role owns neither ${rows.map((row) => row.relname).join(', ')} nor the database; run it as their owner`,
        );
      }
      await client.query('SET statement_timeout = 0');
      await client.query('VACUUM (FULL, ANALYZE) memories, history, jobs');
    } finally {
      await client.query('RESET statement_timeout').catch(() => undefined);
      client.release();
    }
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<HistoryRow>(
        'SELECT * FROM history WHERE user_id = $1 AND memory_id = $2 ORDER BY seq',
        [userId, memoryId],
      );
      return rows.map(historyFromRow);
    });
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<HistoryRow>(
        'SELECT * FROM history WHERE user_id = $1 AND memory_id = ANY($2::text[]) ORDER BY memory_id, seq',
        [userId, memoryIds],
      );
      return groupHistory(rows.map(historyFromRow));
    });
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const params: unknown[] = [userId, options.limit + 1];
    let after = '';
    if (options.cursor !== undefined) {
      params.push(decodeCursor(options.cursor));
      after = ' AND h.id < $3';
    }
    return this.#tx({ user: userId }, async (db) => {
      // Each memory's last entry, when it is a delete and the memory is absent (over history_user_deletes).
      const { rows } = await db.query<HistoryRow>(
        `SELECT h.* FROM history h
         WHERE h.user_id = $1 AND h.event = 'delete'${after}
           AND NOT EXISTS (SELECT 1 FROM history later
                           WHERE later.user_id = h.user_id AND later.memory_id = h.memory_id AND later.seq > h.seq)
           AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.user_id = h.user_id AND m.id = h.memory_id)
         ORDER BY h.id DESC LIMIT $2`,
        params,
      );
      const items = rows.slice(0, options.limit).map(historyFromRow);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
    });
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    for await (const rows of this.#cursor<HistoryRow>(
      'all',
      'SELECT * FROM history ORDER BY user_id, memory_id, seq',
      [],
      1_000,
    )) {
      for (const row of rows) yield historyFromRow(row);
    }
  }

  async categories(userId: string, filter: StoreFilter): Promise<CategoryCount[]> {
    return this.#tx({ user: userId }, async (db) => {
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
    return this.#tx({ user: userId }, async (db) => {
      const where = filterPg(userId, filter);
      const { rows } = await db.query<{ day: string; count: string }>(
        `SELECT left(m.created_at, 10) AS day, count(*) AS count FROM memories m WHERE ${where.sql}
         GROUP BY day ORDER BY day`,
        where.params,
      );
      return rows.map((row) => ({ day: row.day, count: Number(row.count) }));
    });
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    if (terms.length === 0) return [];
    return this.#tx({ user: userId }, async (db) => {
      // One tsquery per term (plainto_tsquery stems it and never parses user text as syntax).
      const termList = terms.slice(0, 64);
      const where = filterPg(userId, filter, 1);
      const { rows } = await db.query<{ id: string; score: number }>(
        `WITH q AS (
           SELECT t.ord, plainto_tsquery('english', t.term) AS query
           FROM unnest($1::text[]) WITH ORDINALITY AS t(term, ord)
         ),
         visible AS MATERIALIZED (SELECT m.id, m.search FROM memories m WHERE ${where.sql}),
         stats AS (SELECT count(*)::float8 AS n FROM visible),
         weights AS (
           SELECT q.query,
             ln(1 + ((SELECT n FROM stats) - df.count + 0.5) / (df.count + 0.5)) AS idf
           FROM q CROSS JOIN LATERAL (SELECT count(*)::float8 AS count FROM visible v WHERE v.search @@ q.query) df
           WHERE numnode(q.query) > 0 AND df.count > 0
         )
         SELECT v.id, sum(w.idf * ts_rank(v.search, w.query, 1)) AS score
         FROM visible v JOIN weights w ON v.search @@ w.query
         GROUP BY v.id
         ORDER BY score DESC, v.id
         LIMIT $${where.params.length + 2}`,
        [termList, ...where.params, limit],
      );
      return rows.map((row) => ({ id: row.id, score: Number(row.score) }));
    });
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    if (!vector.some((x) => x !== 0)) return [];
    const { hnsw, efSearch } = this.#config;
    // The HNSW index is on `embedding::vector(d)`; the same expression lets the planner use it
    // (it still scans exactly when that is cheaper, e.g. for a user with few memories).
    const cast = hnsw && vector.length <= HNSW_MAX_DIMENSION ? `::vector(${vector.length})` : '::vector';
    return this.#tx({ user: userId }, async (db) => {
      if (hnsw) {
        // Iterative scans keep walking the graph until `limit` rows pass the user's filter.
        await db.query(
          `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
          [String(Math.max(efSearch, limit))],
        );
      }
      const where = filterPg(userId, filter, 1);
      // Relaxed order may return rows slightly out of order: the outer query sorts them. A zero
      // stored vector has no direction: cosine distance is NaN there (the index skips it).
      const { rows } = await db.query<{ id: string; distance: number }>(
        `WITH nearest AS MATERIALIZED (
           SELECT m.id, m.embedding${cast} <=> $1${cast} AS distance FROM memories m
           WHERE ${where.sql} ORDER BY distance LIMIT $${where.params.length + 2}
         ) SELECT id, distance FROM nearest ORDER BY distance, id`,
        [vectorToSql(Array.from(vector)), ...where.params, limit],
      );
      return rows.flatMap((row) =>
        Number.isNaN(Number(row.distance)) ? [] : [{ id: row.id, similarity: 1 - Number(row.distance) }],
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
    return this.#tx({ user: userId }, async (db) => {
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
        `SELECT a.id FROM memories a WHERE a.id = ANY($1::text[]) AND a.session_id IS NOT NULL AND $2::int > 0 AND ${anchorWhere}`,
        [[...new Set(ids)], window, ...where.params],
      );
      for (const anchor of anchors) result.set(anchor.id, { before: [], after: [] });
      const { rows } = await db.query<{ anchor: string; side: 'before' | 'after'; id: string; k: string }>(
        `${side(true)} UNION ALL ${side(false)} ORDER BY 1, 2, 4`,
        [[...new Set(ids)], window, ...where.params],
      );
      for (const row of rows) result.get(row.anchor)?.[row.side].push(row.id);
      return result;
    });
  }

  async purgeUser(userId: string): Promise<number> {
    return this.#tx({ user: userId }, async (db) => {
      const { rowCount } = await db.query('DELETE FROM memories WHERE user_id = $1', [userId]);
      await db.query('DELETE FROM history WHERE user_id = $1', [userId]);
      await db.query('DELETE FROM jobs WHERE user_id = $1', [userId]);
      return rowCount ?? 0;
    });
  }

  async *scan(userId?: string): AsyncIterable<MemoryRecord> {
    const scope: Scope = userId === undefined ? 'all' : { user: userId };
    for await (const rows of this.#cursor<MemoryRow & { embedding: string }>(
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

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<{ id: string; embedding: string }>(
        'SELECT id, embedding::text AS embedding FROM memories WHERE user_id = $1 AND id = ANY($2::text[])',
        [userId, ids],
      );
      return new Map(rows.map((row) => [row.id, Float32Array.from(vectorFromSql(row.embedding) as number[])]));
    });
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#tx('all', async (db) => {
      for (const entry of entries) {
        await db.query('UPDATE memories SET embedding = $1::vector WHERE user_id = $2 AND id = $3', [
          vectorToSql(Array.from(entry.vector)),
          entry.userId,
          entry.id,
        ]);
      }
    });
  }

  async enqueueJob(job: Job): Promise<void> {
    await this.#tx({ user: job.userId }, (db) =>
      db.query(
        `INSERT INTO jobs (${JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5::json, $6::json, $7::json, $8, $9, $10, $11, $12, $13)`,
        [
          job.id,
          job.userId,
          job.kind,
          job.status,
          JSON.stringify(job.payload),
          jsonParam(job.result),
          jsonParam(job.error),
          job.attempts,
          job.createdAt,
          job.updatedAt,
          job.runAfter,
          job.lease,
          job.leaseUntil,
        ],
      ),
    );
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE user_id = $1 AND id = $2`, [
        userId,
        id,
      ]);
      return rows[0] ? jobFromRow(rows[0]) : null;
    });
  }

  /** Store-wide (scope `all`); SKIP LOCKED lets replicas claim side by side without waiting for each other. */
  async claimJob(claim: JobClaim): Promise<Job | null> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<JobRow>(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease = $2, lease_until = $3, updated_at = $1
         WHERE id = (
           SELECT id FROM jobs
           WHERE status IN ('queued', 'running')
             AND ((status = 'queued' AND run_after <= $1) OR (status = 'running' AND lease_until <= $1))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING ${JOB_COLUMNS}`,
        [claim.now, claim.lease, claim.leaseUntil],
      );
      return rows[0] ? jobFromRow(rows[0]) : null;
    });
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    return this.#tx({ user: lease.userId }, async (db) => {
      const { rowCount } = await db.query(
        `UPDATE jobs SET lease_until = $4 WHERE user_id = $1 AND id = $2 AND status = 'running' AND lease = $3`,
        [lease.userId, lease.id, lease.lease, leaseUntil],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    return this.#tx({ user: lease.userId }, async (db) => {
      const { rowCount } = await db.query(
        `UPDATE jobs SET status = $4, result = $5::json, error = $6::json, run_after = coalesce($7, run_after),
           payload = CASE WHEN $9::boolean THEN 'null'::json ELSE payload END,
           updated_at = $8, lease = NULL, lease_until = NULL
         WHERE user_id = $1 AND id = $2 AND status = 'running' AND lease = $3`,
        [
          lease.userId,
          lease.id,
          lease.lease,
          settled.status,
          jsonParam(settled.result),
          jsonParam(settled.error),
          settled.runAfter,
          settled.at,
          settled.dropPayload,
        ],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  async jobCounts(): Promise<JobCounts> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY status`,
      );
      return countsOf(rows);
    });
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    return this.#tx('all', async (db) => {
      const { rowCount } = await db.query(
        `DELETE FROM jobs WHERE id IN (
           SELECT id FROM jobs WHERE status IN ('succeeded', 'failed') AND updated_at < $1
           ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before, limit],
      );
      return rowCount ?? 0;
    });
  }

  async stats(): Promise<StoreStats> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<{ memories: string; users: string; bytes: string }>(
        `SELECT count(*) AS memories, count(DISTINCT user_id) AS users,
           (pg_total_relation_size('memories') + pg_total_relation_size('history')) AS bytes FROM memories`,
      );
      const row = rows[0];
      return { memories: Number(row?.memories ?? 0), users: Number(row?.users ?? 0), bytes: Number(row?.bytes ?? 0) };
    });
  }
  async usage(userId: string): Promise<UserUsage> {
    return this.#tx({ user: userId }, async (db) => {
      const { rows } = await db.query<{ memories: string; bytes: string }>(
        'SELECT count(*) AS memories, coalesce(sum(octet_length(content)), 0) AS bytes FROM memories WHERE user_id = $1',
        [userId],
      );
      return { memories: Number(rows[0]?.memories ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
    });
  }

  async users(): Promise<UserSummary[]> {
    return this.#tx('all', async (db) => {
      const { rows } = await db.query<{ user_id: string; memories: string; last_added_at: string }>(
        `SELECT user_id, count(*) AS memories, max(created_at) AS last_added_at
           FROM memories GROUP BY user_id ORDER BY user_id`,
      );
      return rows.map((row) => ({
        userId: row.user_id,
        memories: Number(row.memories),
        lastAddedAt: row.last_added_at,
      }));
    });
  }
}

async function appendHistory(db: pg.PoolClient, entries: HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const columns = transpose(
    entries.map((entry) => [
      entry.id,
      entry.memoryId,
      entry.userId,
      entry.event,
      entry.before === null ? null : JSON.stringify(entry.before),
      entry.after === null ? null : JSON.stringify(entry.after),
      entry.actor,
      entry.at,
      entry.reason,
    ]),
  );
  await db.query(
    `INSERT INTO history (id, memory_id, user_id, event, before, after, actor, at, reason)
     SELECT id, memory_id, user_id, event, before::json, after::json, actor, at, reason
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
       WITH ORDINALITY AS t(id, memory_id, user_id, event, before, after, actor, at, reason, ord)
     ORDER BY ord`,
    columns,
  );
}

/** Rewrites a memory's columns (not created_at, not its access statistics); a vector replaces the stored one when given. */
async function replaceRow(db: pg.PoolClient, memory: Memory, vector: Float32Array | null): Promise<void> {
  const { rowCount } = await db.query(REWRITE_MEMORY, rewriteParams(memory, vector));
  if (!rowCount) throw new EngramError('not_found', `memory ${JSON.stringify(memory.id)} was not found`);
}
