/**
 * The SQLite store's search (`SearchIndex`): keyword search is FTS5 (BM25 over the user's own
 * memories, sqlite-keyword.ts); vector search is an exact cosine scan of the user's vectors with
 * sqlite-vec's C distance function, or for a user past `annMinMemories` an approximate index's
 * candidates re-ranked exactly (ann/ann-search.ts). Both run on reader threads (sqlite-readers.ts)
 * when the store has them, so a large user's search never stops the event loop.
 */
import type { EmbeddingInfo, KeywordHit, StoreFilter, VectorHit } from '../../core/types.js';
import type { SearchIndex } from '../store.js';
import { searchVectors, type VectorQuery } from './ann/ann-search.js';
import type { SqliteDb } from './sqlite-db.js';
import { filterSql } from './sqlite-filter.js';
import { type KeywordQuery, rankKeyword } from './sqlite-keyword.js';
import { bytesVector, vectorBytes } from './sqlite-rows.js';

export class SqliteSearch implements SearchIndex {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    if (terms.length === 0) return [];
    const where = filterSql(userId, filter);
    const query: KeywordQuery = {
      userId,
      owner: `u${Buffer.from(userId, 'utf8').toString('hex')}`,
      terms,
      where: where.sql,
      params: where.params,
      limit,
    };
    // Ranked with this user's statistics only (sqlite-keyword.ts), on a reader thread when there are readers.
    const readers = this.#db.readerThreads();
    return readers ? readers.keyword(query) : rankKeyword(this.#db.statements, query);
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    const where = filterSql(userId, filter);
    const query: VectorQuery = {
      userId,
      vector: vectorBytes(vector),
      dimension: vector.length,
      where: where.sql,
      params: where.params,
      narrowing: narrows(filter),
      limit,
      approximate: this.#db.ann.enabled,
      dir: this.#db.ann.dir,
      load: this.#db.config.annMemory === 'load',
    };
    const readers = this.#db.readerThreads();
    const found = readers ? await readers.vector(query) : searchVectors(this.#db.conn, this.#db.statements, query);
    if (found.via === 'unusable') this.#db.ann.forget(userId);
    this.#db.ann.maybeBuild(userId);
    return found.rows.map((row) => ({ id: row.id, similarity: 1 - row.distance }));
  }

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    const rows = this.#db
      .prepare(
        `SELECT m.id AS id, v.embedding AS embedding FROM memories m JOIN vectors v ON v.rowid = m.rowid
         WHERE m.user_id = ? AND m.id IN (SELECT value FROM json_each(?))`,
      )
      .all(userId, JSON.stringify(ids)) as { id: string; embedding: Buffer }[];
    return new Map(rows.map((row) => [row.id, bytesVector(row.embedding)]));
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    const db = this.#db.conn;
    const statement = this.#db.prepare(
      'UPDATE vectors SET embedding = ? WHERE rowid = (SELECT rowid FROM memories WHERE user_id = ? AND id = ?)',
    );
    db.transaction(() => {
      for (const entry of entries) statement.run(vectorBytes(entry.vector), entry.userId, entry.id);
    }).immediate();
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    const row = this.#db.prepare(`SELECT value FROM store_meta WHERE key = 'embedding'`).get() as
      | { value: string }
      | undefined;
    return row ? (JSON.parse(row.value) as EmbeddingInfo) : null;
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO store_meta (key, value) VALUES ('embedding', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      )
      .run(JSON.stringify(info));
  }
}

/** Whether a filter keeps only some of a user's current memories (the approximate index then fetches more candidates). */
function narrows(filter: StoreFilter): boolean {
  const { now: _now, includeSuperseded: _superseded, includeExpired: _expired, ...rest } = filter;
  return Object.values(rest).some((value) => value !== undefined && !(Array.isArray(value) && value.length === 0));
}
