import { vectorFromSql, vectorToSql } from 'pgvector/utils';
import type { EmbeddingInfo, KeywordHit, StoreFilter, VectorHit } from '../../core/types.js';
import type { SearchIndex } from '../store.js';
import type { PostgresDb } from './postgres-db.js';
import { filterPg } from './postgres-filter.js';
import { ensureVectorIndex, HNSW_MAX_DIMENSION } from './postgres-migrations.js';

/**
 * The PostgreSQL store's search (`SearchIndex`): keyword search over a `tsvector` (GIN), ranked
 * BM25-like — each query term weighted by its inverse document frequency among the user's
 * memories, times `ts_rank` of the term (term frequency, saturating); vector search with pgvector
 * (cosine distance), through the HNSW index when there is one.
 */
export class PostgresSearch implements SearchIndex {
  readonly #db: PostgresDb;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    if (terms.length === 0) return [];
    return this.#db.tx({ user: userId }, async (db) => {
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
    const { hnsw, efSearch } = this.#db.config;
    // The HNSW index is on `embedding::vector(d)`; the same expression lets the planner use it
    // (it still scans exactly when that is cheaper, e.g. for a user with few memories).
    const cast = hnsw && vector.length <= HNSW_MAX_DIMENSION ? `::vector(${vector.length})` : '::vector';
    return this.#db.tx({ user: userId }, async (db) => {
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

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<{ id: string; embedding: string }>(
        'SELECT id, embedding::text AS embedding FROM memories WHERE user_id = $1 AND id = ANY($2::text[])',
        [userId, ids],
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
