import type { PoolClient } from 'pg';

/**
 * Versioned schema migrations in `<schema>.schema_migrations`, applied at start under an advisory
 * lock so that replicas starting together migrate once. A database from a newer Engram is refused.
 *
 * Isolation is enforced by PostgreSQL too: every table with user rows has row-level security
 * (forced, so it binds the owning role as well) that admits a row only when its `user_id` equals
 * the transaction's `engram.user_id` setting — or when the transaction declared `engram.scope =
 * all` (store-wide maintenance: stats, export of every user).
 */
export const migrations: { version: number; description: string; sql: string }[] = [
  {
    version: 1,
    description: 'memories with vectors and full-text, history, store metadata, row-level security',
    sql: `
      CREATE TABLE store_meta (key text COLLATE "C" PRIMARY KEY, value jsonb NOT NULL);

      CREATE TABLE memories (
        id            text COLLATE "C" PRIMARY KEY,
        user_id       text COLLATE "C" NOT NULL,
        agent_id      text COLLATE "C",
        session_id    text COLLATE "C",
        content       text NOT NULL,
        category      text COLLATE "C" NOT NULL,
        tags          jsonb NOT NULL,
        -- json, not jsonb: key order is kept, so exports are byte-identical to the other stores'.
        metadata      json NOT NULL,
        created_at    text COLLATE "C" NOT NULL,
        updated_at    text COLLATE "C" NOT NULL,
        event_at      text COLLATE "C",
        expires_at    text COLLATE "C",
        pinned        boolean NOT NULL,
        source        text NOT NULL,
        hash          text COLLATE "C" NOT NULL,
        superseded_by text COLLATE "C",
        valid_to      text COLLATE "C",
        -- Lower-cased words without diacritics (core/text.ts), so matching agrees with the other stores.
        search_text   text NOT NULL,
        search        tsvector GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED,
        embedding     vector NOT NULL
      );
      CREATE INDEX memories_user_id ON memories (user_id, id);
      CREATE INDEX memories_user_hash ON memories (user_id, hash, id);
      CREATE INDEX memories_user_category ON memories (user_id, category);
      CREATE INDEX memories_user_session ON memories (user_id, session_id, created_at, id);
      CREATE INDEX memories_search ON memories USING gin (search);

      CREATE TABLE history (
        seq       bigserial PRIMARY KEY,
        id        text COLLATE "C" NOT NULL UNIQUE,
        memory_id text COLLATE "C" NOT NULL,
        user_id   text COLLATE "C" NOT NULL,
        event     text NOT NULL,
        before    json,
        after     json,
        actor     text NOT NULL,
        at        text COLLATE "C" NOT NULL,
        reason    text
      );
      CREATE INDEX history_user_memory ON history (user_id, memory_id, seq);

      ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
      ALTER TABLE memories FORCE ROW LEVEL SECURITY;
      CREATE POLICY memories_by_user ON memories
        USING (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all')
        WITH CHECK (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all');
      ALTER TABLE history ENABLE ROW LEVEL SECURITY;
      ALTER TABLE history FORCE ROW LEVEL SECURITY;
      CREATE POLICY history_by_user ON history
        USING (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all')
        WITH CHECK (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all');
    `,
  },
];

export const LATEST_VERSION = migrations.at(-1)?.version ?? 0;

/** Arbitrary but fixed: the advisory lock every Engram process takes while migrating. */
const MIGRATION_LOCK = 0x656e6772616d;

export async function migrate(client: PoolClient, schema: string): Promise<{ from: number; to: number }> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${schema}.schema_migrations`,
    );
    const from = rows[0]?.version ?? 0;
    if (from > LATEST_VERSION) {
      throw new Error(
        `schema ${schema} has version ${from}, newer than this Engram understands (${LATEST_VERSION}); upgrade Engram`,
      );
    }
    for (const step of migrations) {
      if (step.version <= from) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO ${schema}, public`);
        await client.query(step.sql);
        await client.query(`INSERT INTO ${schema}.schema_migrations (version, description) VALUES ($1, $2)`, [
          step.version,
          step.description,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return { from, to: LATEST_VERSION };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
