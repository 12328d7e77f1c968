import { EngramError } from '../../core/errors.js';
import { ComposedStore } from '../composed-store.js';
import type { MemoryStore, StoreStats, UserSummary, UserUsage } from '../store.js';
import { type PostgresConfig, postgresConfigSchema } from './postgres-config.js';
import { PostgresDb } from './postgres-db.js';
import { PostgresHistory } from './postgres-history.js';
import { PostgresJobs } from './postgres-jobs.js';
import { PostgresMemories } from './postgres-memories.js';
import { dropVectorIndexes, ensureVectorIndex } from './postgres-migrations.js';
import { PostgresSearch } from './postgres-search.js';

/**
 * PostgreSQL + pgvector: memories with their vector (`vector`, cosine distance) and a `tsvector`
 * (GIN) for keyword search, history, all in one schema. Every statement runs in a transaction
 * that sets `engram.user_id`, and row-level security admits only that user's rows — isolation
 * holds in the database, not only in this code. Keyword ranking is BM25-like: each query term
 * weighted by its inverse document frequency among the user's memories, times `ts_rank` of the
 * term (term frequency, saturating).
 *
 * Its roles live beside it — postgres-memories.ts, postgres-history.ts, postgres-search.ts,
 * postgres-jobs.ts — over the pool of postgres-db.ts; the store-wide upkeep (`StoreAdmin`) is here.
 */
export class PostgresStore extends ComposedStore implements MemoryStore {
  readonly name = 'postgres';
  readonly #db: PostgresDb;

  constructor(config: PostgresConfig) {
    const db = new PostgresDb(postgresConfigSchema.parse(config));
    super({
      records: new PostgresMemories(db),
      history: new PostgresHistory(db),
      search: new PostgresSearch(db),
      jobs: new PostgresJobs(db),
    });
    this.#db = db;
  }

  async init(): Promise<void> {
    await this.#db.open();
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async probeWrite(): Promise<void> {
    await this.#db.tx('all', (db) =>
      db.query(
        `INSERT INTO store_meta (key, value) VALUES ('ready_probe', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [JSON.stringify(new Date().toISOString())],
      ),
    );
  }

  /** The HNSW index goes for a bulk load: building it once afterwards is several times faster. */
  async deferIndexes(): Promise<() => Promise<void>> {
    await this.#db.withClient((client) => dropVectorIndexes(client, this.#db.config.schema));
    return async () => {
      const info = await this.getEmbeddingInfo();
      if (!info) return;
      await this.#db.withClient((client) => ensureVectorIndex(client, this.#db.config.schema, info.dimension));
    };
  }

  async compact(): Promise<void> {
    if (!this.#db.pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#db.pool.connect();
    try {
      // VACUUM FULL writes each table (and its indexes) anew and drops the old files; it cannot run
      // in a transaction, holds an exclusive lock per table while it runs, and may take longer than
      // the statement timeout of ordinary queries.
      // PostgreSQL skips, with only a warning, a table the role may not vacuum (it must act as the
      // table's owner or the database's, or be a superuser): say so instead.
      const { rows } = await client.query<{ relname: string }>(
        `SELECT relname FROM pg_class
         WHERE oid IN ('memories'::regclass, 'memory_terms'::regclass, 'memory_terms_df'::regclass, 'history'::regclass, 'jobs'::regclass)
           AND NOT pg_has_role(relowner, 'USAGE')
           AND NOT pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
         ORDER BY array_position(ARRAY['memories', 'memory_terms', 'memory_terms_df', 'history', 'jobs'], relname::text)`,
      );
      if (rows.length > 0) {
        throw new EngramError(
          'forbidden',
          `cannot compact: this role owns neither ${rows.map((row) => row.relname).join(', ')} nor the database; run it as their owner`,
        );
      }
      // VACUUM FULL rebuilds the HNSW index too: with the default 64 MB it spills from 25k vectors on.
      await client.query(`SET statement_timeout = 0; SET maintenance_work_mem = '256MB'`);
      await client.query('VACUUM (FULL, ANALYZE) memories, memory_terms, memory_terms_df, history, jobs');
    } finally {
      await client.query('RESET statement_timeout; RESET maintenance_work_mem').catch(() => undefined);
      client.release();
    }
  }

  async purgeUser(userId: string): Promise<number> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rowCount } = await db.query('DELETE FROM memories WHERE user_id = $1', [userId]);
      await db.query('DELETE FROM history WHERE user_id = $1', [userId]);
      await db.query('DELETE FROM jobs WHERE user_id = $1', [userId]);
      return rowCount ?? 0;
    });
  }

  async stats(): Promise<StoreStats> {
    return this.#db.tx('all', async (db) => {
      const { rows } = await db.query<{ memories: string; users: string; bytes: string }>(
        `SELECT count(*) AS memories, count(DISTINCT user_id) AS users,
           (pg_total_relation_size('memories') + pg_total_relation_size('memory_terms') + pg_total_relation_size('memory_terms_df')
             + pg_total_relation_size('history')) AS bytes FROM memories`,
      );
      const row = rows[0];
      return { memories: Number(row?.memories ?? 0), users: Number(row?.users ?? 0), bytes: Number(row?.bytes ?? 0) };
    });
  }

  async usage(userId: string): Promise<UserUsage> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<{ memories: string; bytes: string }>(
        'SELECT count(*) AS memories, coalesce(sum(octet_length(content)), 0) AS bytes FROM memories WHERE user_id = $1',
        [userId],
      );
      return { memories: Number(rows[0]?.memories ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
    });
  }

  async users(): Promise<UserSummary[]> {
    return this.#db.tx('all', async (db) => {
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
