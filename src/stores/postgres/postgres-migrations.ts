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
  {
    version: 2,
    description: 'background jobs (asynchronous ingest), claimed with leases, row-level security',
    sql: `
      CREATE TABLE jobs (
        id          text COLLATE "C" PRIMARY KEY,
        user_id     text COLLATE "C" NOT NULL,
        kind        text NOT NULL,
        status      text NOT NULL,
        -- json, not jsonb: key order is kept (an add's metadata must arrive as it was sent).
        payload     json NOT NULL,
        result      json,
        error       json,
        attempts    integer NOT NULL,
        created_at  text COLLATE "C" NOT NULL,
        updated_at  text COLLATE "C" NOT NULL,
        run_after   text COLLATE "C" NOT NULL,
        lease       text,
        lease_until text COLLATE "C"
      );
      CREATE INDEX jobs_user ON jobs (user_id, id);
      -- Claims walk only the unfinished jobs, oldest first.
      CREATE INDEX jobs_pending ON jobs (id) WHERE status IN ('queued', 'running');

      ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
      ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
      CREATE POLICY jobs_by_user ON jobs
        USING (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all')
        WITH CHECK (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all');
    `,
  },
  {
    version: 3,
    description: 'access statistics; index expiry for the sweeper',
    sql: `
      ALTER TABLE memories ADD COLUMN access_count integer NOT NULL DEFAULT 0;
      ALTER TABLE memories ADD COLUMN last_accessed_at text COLLATE "C";
      CREATE INDEX memories_expires_at ON memories (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 4,
    description: 'index deletions per user (recently deleted memories)',
    sql: `CREATE INDEX history_user_deletes ON history (user_id, id) WHERE event = 'delete';`,
  },
  {
    version: 5,
    description: 'index finished jobs by age (job retention)',
    sql: `CREATE INDEX jobs_finished ON jobs (updated_at) WHERE status IN ('succeeded', 'failed');`,
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

const VECTOR_INDEX_PREFIX = 'memories_embedding_hnsw_';
/** pgvector indexes `vector` columns of at most this many dimensions. */
export const HNSW_MAX_DIMENSION = 2_000;

/** Drops the HNSW index, whatever its dimension (a bulk load rebuilds it with `ensureVectorIndex`). */
export async function dropVectorIndexes(client: PoolClient, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const { rows } = await client.query<{ name: string }>(
      `SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = 'memories' AND indexname LIKE $2`,
      [schema, `${VECTOR_INDEX_PREFIX}%`],
    );
    for (const { name } of rows) await client.query(`DROP INDEX ${schema}.${name}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export type VectorIndexState = 'ready' | 'created' | 'deferred' | 'unsupported';

/**
 * Makes the HNSW index (cosine) for `dimension`-d vectors exist, and no other. The column is a
 * plain `vector` (any dimension, so a reindex can change models), so the index is on the
 * expression `embedding::vector(d)`; searches use the same expression. An index for another
 * dimension is dropped; while rows of another dimension remain (a reindex half-way), none is built
 * (`deferred`): the next call after the reindex builds it. Built under the migration lock, without
 * the statement timeout (a build over existing rows can take minutes), in one transaction.
 */
export async function ensureVectorIndex(
  client: PoolClient,
  schema: string,
  dimension: number,
): Promise<VectorIndexState> {
  if (!Number.isInteger(dimension) || dimension < 1) throw new Error(`not a vector dimension: ${dimension}`);
  const wanted = `${VECTOR_INDEX_PREFIX}${dimension}`;
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock($1), set_config('engram.scope', 'all', true)`, [MIGRATION_LOCK]);
    const { rows } = await client.query<{ name: string }>(
      `SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = 'memories' AND indexname LIKE $2`,
      [schema, `${VECTOR_INDEX_PREFIX}%`],
    );
    for (const { name } of rows) {
      if (name !== wanted) await client.query(`DROP INDEX ${schema}.${name}`);
    }
    let state: VectorIndexState = 'ready';
    if (dimension > HNSW_MAX_DIMENSION) state = 'unsupported';
    else if (!rows.some((row) => row.name === wanted)) {
      const mixed = await client.query(`SELECT 1 FROM ${schema}.memories WHERE vector_dims(embedding) <> $1 LIMIT 1`, [
        dimension,
      ]);
      if (mixed.rowCount) state = 'deferred';
      else {
        await client.query(`SET LOCAL statement_timeout = 0; SET LOCAL maintenance_work_mem = '256MB'`);
        await client.query(
          `CREATE INDEX ${wanted} ON ${schema}.memories USING hnsw ((embedding::vector(${dimension})) vector_cosine_ops)`,
        );
        state = 'created';
      }
    }
    await client.query('COMMIT');
    return state;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
