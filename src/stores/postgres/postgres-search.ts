import { vectorFromSql, vectorToSql } from 'pgvector/utils';
import type { EmbeddingInfo, KeywordHit, StoreFilter, VectorHit } from '../../core/types.js';
import type { SearchIndex } from '../store.js';
import { type PostgresDb, prepared } from './postgres-db.js';
import { filterPg } from './postgres-filter.js';
import { ensureVectorIndex, HNSW_MAX_DIMENSION } from './postgres-migrations.js';

/** BM25's term-frequency saturation and length normalisation, as in the SQLite store (sqlite-keyword.ts). */
const K1 = 1.2;
const B = 0.75;
/** Postings read per query word: a word in more of a user's memories contributes through the newest this many. */
const POOL = 2_000;
/** Besides, the newest this many memories with both of the search's two rarest words (which the newest POOL of each may miss). */
const BOTH = 500;

/**
 * The PostgreSQL store's search (`SearchIndex`).
 *
 * Keyword search reads the postings of the query's words in `memory_terms` and their counts in
 * `memory_terms_df` (both kept by triggers at write time, see migrations 6 and 8) and scores with
 * BM25 over the user's own memories:
 * idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5)) times tf·(k1+1) / (tf + k1·(1 − b +
 * b·len/avglen)), with N the user's memories, n(t) those containing t and avglen their mean length
 * in words (all whatever the search's filter, so a filter does not reweigh words). Only then are
 * the best-scored memories checked against the filter, in score order until `limit` pass. A
 * search costs what its words occur in, not what the user has; a word in more than POOL of the
 * user's memories contributes through the newest POOL. When even the rarest word is in more than
 * POOL, the newest BOTH memories with both of the two rarest words are scored too, with all their
 * words (as the SQLite store's pool does): an older memory with both of two common words is not
 * lost behind newer ones with one. Finding them reads both words' postings: at 100k memories in
 * one user, keyword p50 / p95 1.07× / 1.28× in `bench:keyword` (1.4× / 1.5× for the store's
 * `keywordSearch` alone, BENCHMARKS.md).
 *
 * Vector search uses pgvector (cosine distance), through the HNSW index when there is one.
 */
export class PostgresSearch implements SearchIndex {
  readonly #db: PostgresDb;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    if (terms.length === 0) return [];
    return this.#db.read({ user: userId }, async (db) => {
      // $1 is the user (the filter's first parameter), then the filter's, the limit and the words.
      const where = filterPg(userId, filter);
      const n = where.params.length + 1;
      const sql = `WITH q AS (SELECT DISTINCT t.lexeme FROM unnest(to_tsvector('english', $${n + 1})) AS t),
         totals AS (
           SELECT u.memories::float8 AS n, coalesce(u.words::float8 / nullif(u.memories, 0), 1) AS avglen
           FROM memory_terms_users u WHERE u.user_id = $1
         ),
         weights AS MATERIALIZED (
           SELECT q.lexeme, d.df, ln(1 + (totals.n - d.df + 0.5) / (d.df + 0.5)) AS idf
           FROM q CROSS JOIN totals
           CROSS JOIN LATERAL (
             SELECT coalesce((SELECT f.df::float8 FROM memory_terms_df f WHERE f.user_id = $1 AND f.lexeme = q.lexeme), 0) AS df
           ) d
         ),
         rare AS MATERIALIZED (SELECT lexeme, df, row_number() OVER (ORDER BY df, lexeme) AS place FROM weights WHERE df > 0),
         every AS MATERIALIZED (
           SELECT a.memory_id FROM rare r1
           JOIN rare r2 ON r2.place = 2
           JOIN memory_terms a ON a.user_id = $1 AND a.lexeme = r1.lexeme
           JOIN memory_terms b ON b.user_id = $1 AND b.lexeme = r2.lexeme AND b.memory_id = a.memory_id
           WHERE r1.place = 1 AND r1.df > ${POOL}
           ORDER BY a.memory_id DESC LIMIT ${BOTH}
         ),
         newest AS MATERIALIZED (
           SELECT w.lexeme, p.memory_id, p.tf, p.len FROM weights w
           CROSS JOIN LATERAL (
             SELECT t.memory_id, t.tf, t.len FROM memory_terms t WHERE t.user_id = $1 AND t.lexeme = w.lexeme
             ORDER BY t.memory_id DESC LIMIT ${POOL}
           ) p
           WHERE w.df > 0
         ),
         postings AS (
           SELECT lexeme, memory_id, tf, len FROM newest
           UNION ALL
           SELECT w.lexeme, t.memory_id, t.tf, t.len FROM every e CROSS JOIN weights w
           JOIN memory_terms t ON t.user_id = $1 AND t.lexeme = w.lexeme AND t.memory_id = e.memory_id
           WHERE w.df > 0 AND NOT EXISTS (SELECT 1 FROM newest n WHERE n.lexeme = w.lexeme AND n.memory_id = e.memory_id)
         ),
         scored AS (
           SELECT p.memory_id,
             sum(w.idf * p.tf * ${K1 + 1} / (p.tf + ${K1} * (${1 - B} + ${B} * p.len / totals.avglen))) AS score,
             sum(w.idf) / (SELECT nullif(sum(idf), 0) FROM weights) AS coverage
           FROM postings p JOIN weights w ON w.lexeme = p.lexeme CROSS JOIN totals
           GROUP BY p.memory_id
           ORDER BY score DESC, p.memory_id
         )
         SELECT s.memory_id AS id, s.score, s.coverage FROM scored s
         WHERE EXISTS (SELECT 1 FROM memories m WHERE m.id = s.memory_id AND ${where.sql})
         ORDER BY s.score DESC, s.memory_id
         LIMIT $${n}`;
      const { rows } = await db.query<{ id: string; score: number; coverage: number }>(
        prepared(sql, [...where.params, limit, terms.slice(0, 64).join(' ')]),
      );
      return rows.map((row) => ({ id: row.id, score: Number(row.score), coverage: Number(row.coverage ?? 0) }));
    });
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    if (!vector.some((x) => x !== 0)) return [];
    const query = vectorQuery(this.#db.config, userId, vector, filter, limit);
    return this.#db.read(
      { user: userId },
      async (db) => {
        const { rows } = await db.query<{ id: string; distance: number }>(query.text, query.values);
        return rows.flatMap((row) =>
          Number.isNaN(Number(row.distance)) ? [] : [{ id: row.id, similarity: 1 - Number(row.distance) }],
        );
      },
      query.settings,
    );
  }

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    return this.#db.read({ user: userId }, async (db) => {
      const { rows } = await db.query<{ id: string; embedding: string }>(
        prepared('SELECT id, embedding::text AS embedding FROM memories WHERE user_id = $1 AND id = ANY($2::text[])', [
          userId,
          ids,
        ]),
      );
      return new Map(rows.map((row) => [row.id, Float32Array.from(vectorFromSql(row.embedding) as number[])]));
    });
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#db.tx('all', async (db) => {
      for (const entry of entries) {
        await db.query('UPDATE memories SET embedding = $1::vector WHERE user_id = $2 AND id = $3', [
          vectorToSql(Array.from(entry.vector)),
          entry.userId,
          entry.id,
        ]);
      }
    });
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    return this.#db.tx('all', async (db) => {
      const { rows } = await db.query<{ value: EmbeddingInfo }>(`SELECT value FROM store_meta WHERE key = 'embedding'`);
      return rows[0]?.value ?? null;
    });
  }

  /** Records the model, and keeps the HNSW index to its dimension (see `ensureVectorIndex`). */
  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    await this.#db.tx('all', (db) =>
      db.query(
        `INSERT INTO store_meta (key, value) VALUES ('embedding', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [JSON.stringify(info)],
      ),
    );
    await this.#db.withClient((client) => ensureVectorIndex(client, this.#db.config.schema, info.dimension));
  }
}

/**
 * Vector search's statement for `userId` (run acting for that user, with `settings`). Exported so
 * a test can ask PostgreSQL how it plans the very statement the store runs.
 */
export function vectorQuery(
  config: Pick<PostgresDb['config'], 'hnsw' | 'efSearch'>,
  userId: string,
  vector: Float32Array,
  filter: StoreFilter,
  limit: number,
): { text: string; values: unknown[]; settings: Record<string, string> } {
  const { hnsw, efSearch } = config;
  // The HNSW index is on `embedding::vector(d)`; the same expression lets the planner use it
  // (it still scans exactly when that is cheaper, e.g. for a user with few memories).
  const indexed = hnsw && vector.length <= HNSW_MAX_DIMENSION;
  const cast = indexed ? `::vector(${vector.length})` : '::vector';
  // The index holds only vectors of its dimension (ensureVectorIndex); saying so lets the planner
  // use it, and rows of another dimension (mid-reindex) are passed over instead of failing the cast.
  // (Statistics on the expression, migration 9, tell the planner that this is nearly every row.)
  const sameDimension = indexed ? ` AND vector_dims(m.embedding) = ${vector.length}` : '';
  const where = filterPg(userId, filter, 1);
  // Relaxed order may return rows slightly out of order: the outer query sorts them. A zero
  // stored vector has no direction: cosine distance is NaN there (the index skips it). Not
  // prepared: the plan (the index, or an exact scan of the user's rows) depends on the user.
  const text = `WITH nearest AS MATERIALIZED (
     SELECT m.id, m.embedding${cast} <=> $1${cast} AS distance FROM memories m
     WHERE ${where.sql}${sameDimension} ORDER BY distance LIMIT $${where.params.length + 2}
   ) SELECT id, distance FROM nearest ORDER BY distance, id`;
  // Iterative scans keep walking the graph until `limit` rows pass the user's filter.
  const settings: Record<string, string> = hnsw
    ? { 'hnsw.ef_search': String(Math.max(efSearch, limit)), 'hnsw.iterative_scan': 'relaxed_order' }
    : {};
  return { text, values: [vectorToSql(Array.from(vector)), ...where.params, limit], settings };
}
