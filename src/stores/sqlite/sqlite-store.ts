import { statSync } from 'node:fs';
import { ComposedStore } from '../composed-store.js';
import type { MemoryStore, StoreStats, UserSummary, UserUsage } from '../store.js';
import type { SqliteAnn } from './ann/sqlite-ann.js';
import { type SqliteConfig, sqliteConfigSchema } from './sqlite-config.js';
import { SqliteDb } from './sqlite-db.js';
import { SqliteHistory } from './sqlite-history.js';
import { SqliteJobs } from './sqlite-jobs.js';
import { SqliteMemories } from './sqlite-memories.js';
import { SqliteSearch } from './sqlite-search.js';

/**
 * The default store: one SQLite file in WAL mode. Keyword search is FTS5 (BM25, Porter stemming);
 * vector search is an exact cosine scan of the user's vectors with sqlite-vec's C distance function.
 * Both scans run on reader threads (sqlite-readers.ts), so a large user's search never stops the
 * event loop; everything else is a short indexed statement on the main connection.
 *
 * Its roles live beside it — sqlite-memories.ts, sqlite-history.ts, sqlite-search.ts,
 * sqlite-jobs.ts — over the connections of sqlite-db.ts; the store-wide upkeep (`StoreAdmin`) is here.
 */
export class SqliteStore extends ComposedStore implements MemoryStore {
  readonly name = 'sqlite';
  readonly #db: SqliteDb;

  constructor(config: SqliteConfig) {
    const db = new SqliteDb(sqliteConfigSchema.parse(config));
    super({
      records: new SqliteMemories(db),
      history: new SqliteHistory(db),
      search: new SqliteSearch(db),
      jobs: new SqliteJobs(db),
    });
    this.#db = db;
  }

  async init(): Promise<void> {
    this.#db.open();
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async probeWrite(): Promise<void> {
    const db = this.#db.conn;
    db.transaction(() =>
      this.#db
        .prepare(
          `INSERT INTO store_meta (key, value) VALUES ('ready_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        )
        .run(new Date().toISOString()),
    ).immediate();
  }

  /** Large users' approximate vector indexes (benchmarks and tests wait for their builds). */
  get ann(): SqliteAnn {
    return this.#db.ann;
  }

  async purgeUser(userId: string): Promise<number> {
    const db = this.#db.conn;
    const file = this.#db.ann.state(userId)?.file;
    const purged = db
      .transaction(() => {
        const { changes } = this.#db.prepare('DELETE FROM memories WHERE user_id = ?').run(userId);
        this.#db.prepare('DELETE FROM history WHERE user_id = ?').run(userId);
        this.#db.prepare('DELETE FROM vectors WHERE user_id = ?').run(userId);
        this.#db.prepare('DELETE FROM jobs WHERE user_id = ?').run(userId);
        this.#db.prepare('DELETE FROM user_terms WHERE user_id = ?').run(userId);
        // The user's index file is nobody's now; the next sweep removes it (ann/sqlite-ann.ts).
        this.#db.prepare('DELETE FROM ann_indexes WHERE user_id = ?').run(userId);
        this.#db.prepare('DELETE FROM ann_changes WHERE user_id = ?').run(userId);
        return changes;
      })
      .immediate();
    if (file) this.#db.ann.retire(file);
    return purged;
  }

  async compact(): Promise<void> {
    const db = this.#db.conn;
    // A deleted memory's words stay in the keyword index's older segments until they are merged;
    // VACUUM then rewrites the file without its free pages, and the WAL's old frames are dropped.
    db.exec(`INSERT INTO memories_fts (memories_fts) VALUES ('optimize')`);
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async stats(): Promise<StoreStats> {
    const row = this.#db
      .prepare('SELECT count(*) AS memories, count(DISTINCT user_id) AS users FROM memories')
      .get() as {
      memories: number;
      users: number;
    };
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(this.#db.config.path + suffix).size;
      } catch {
        // the WAL file may not exist
      }
    }
    return { ...row, bytes };
  }

  async usage(userId: string): Promise<UserUsage> {
    // Kept at write time by triggers (migrations.ts, version 9): one row, whatever the user's size.
    const row = this.#db.prepare('SELECT memories, bytes FROM user_usage WHERE user_id = ?').get(userId) as
      | UserUsage
      | undefined;
    return row ?? { memories: 0, bytes: 0 };
  }

  async users(): Promise<UserSummary[]> {
    return this.#db
      .prepare(
        `SELECT user_id AS userId, count(*) AS memories, max(created_at) AS lastAddedAt
           FROM memories GROUP BY user_id ORDER BY user_id`,
      )
      .all() as UserSummary[];
  }
}
