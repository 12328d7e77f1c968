import type pg from 'pg';
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
/**
 * Forced row-level security admitting a row of `table` only to its user's transactions (or to
 * store-wide ones), as migration 1 set it on the first tables. Its output is part of migrations
 * already applied: change it only by a new migration.
 */
const ownedByUser = (table: string): string => `
  ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
  ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
  CREATE POLICY ${table}_by_user ON ${table}
    USING (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all')
    WITH CHECK (user_id = current_setting('engram.user_id', true) OR current_setting('engram.scope', true) = 'all');`;

/**
 * Keyword search's own inverted index (v6). Under row-level security PostgreSQL cannot use a GIN
 * index for `@@` (`ts_match_vq` is not LEAKPROOF, and only a superuser could mark it so), so the
 * GIN index was never used: every keyword search read all of the user's rows. `memory_terms`
 * holds one posting per memory and word (lexeme of the `english` configuration) with the word's
 * count in the memory and the memory's length in words, under a B-tree whose equality operators
 * are leakproof, so a search reads only the postings of its words. `memory_terms_users` keeps
 * each user's memories and their total length in words (BM25's N and average length) so no
 * search counts them. Triggers keep both in step with `memories` in the same transaction, for
 * every writer (the store, `migrate-store`, SQL by hand): statement-level for inserts and
 * deletes (a batch is one INSERT … SELECT), row-level for the rare rewrite of a memory's words.
 * A user's totals row is locked by their writes until commit (users in order, so two writers
 * never wait on each other in a circle); one user's writes were already serialised by the add lock.
 */
const KEYWORD_POSTINGS_SQL = `
  SELECT set_config('engram.scope', 'all', true);

  CREATE FUNCTION memory_length(words text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_length(string_to_array(words, ' '), 1), 0)
  $$;
  -- A memory's postings: each lexeme with its count, and the memory's length in words.
  CREATE FUNCTION memory_postings(words text) RETURNS TABLE (lexeme text, tf integer, len integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT t.lexeme, coalesce(cardinality(t.positions), 1), memory_length(words)
      FROM unnest(to_tsvector('english', words)) AS t
    $$;

  CREATE TABLE memory_terms (
    user_id   text COLLATE "C" NOT NULL,
    lexeme    text COLLATE "C" NOT NULL,
    memory_id text COLLATE "C" NOT NULL,
    tf        integer NOT NULL,
    len       integer NOT NULL
  );
  INSERT INTO memory_terms
    SELECT m.user_id, p.lexeme, m.id, p.tf, p.len FROM memories m, memory_postings(m.search_text) p
    ORDER BY 1, 2, 3;
  ALTER TABLE memory_terms ADD PRIMARY KEY (user_id, lexeme, memory_id) INCLUDE (tf, len);

  CREATE TABLE memory_terms_users (
    user_id  text COLLATE "C" PRIMARY KEY,
    memories bigint NOT NULL,
    words    bigint NOT NULL
  );
  INSERT INTO memory_terms_users
    SELECT user_id, count(*), sum(memory_length(search_text)) FROM memories GROUP BY user_id;

${ownedByUser('memory_terms')}
${ownedByUser('memory_terms_users')}

  CREATE FUNCTION memory_terms_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      INSERT INTO memory_terms_users AS u (user_id, memories, words)
        SELECT user_id, count(*), sum(memory_length(search_text)) FROM new_rows GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET memories = u.memories + excluded.memories, words = u.words + excluded.words;
      INSERT INTO memory_terms (user_id, lexeme, memory_id, tf, len)
        SELECT n.user_id, p.lexeme, n.id, p.tf, p.len FROM new_rows n, memory_postings(n.search_text) p;
      RETURN NULL;
    END $$;
  CREATE FUNCTION memory_terms_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      PERFORM 1 FROM memory_terms_users WHERE user_id IN (SELECT user_id FROM old_rows) ORDER BY user_id FOR UPDATE;
      UPDATE memory_terms_users u SET memories = u.memories - d.memories, words = u.words - d.words
        FROM (SELECT user_id, count(*) AS memories, sum(memory_length(search_text)) AS words FROM old_rows GROUP BY user_id) d
        WHERE u.user_id = d.user_id;
      -- A user with no memory left leaves no row behind (a purge erases the user from here too).
      DELETE FROM memory_terms_users WHERE user_id IN (SELECT user_id FROM old_rows) AND memories = 0;
      DELETE FROM memory_terms t
        USING (SELECT o.user_id, o.id, p.lexeme FROM old_rows o, memory_postings(o.search_text) p) d
        WHERE t.user_id = d.user_id AND t.lexeme = d.lexeme AND t.memory_id = d.id;
      RETURN NULL;
    END $$;
  CREATE FUNCTION memory_terms_rewritten() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      UPDATE memory_terms_users SET words = words - memory_length(OLD.search_text) + memory_length(NEW.search_text)
        WHERE user_id = NEW.user_id;
      DELETE FROM memory_terms t USING memory_postings(OLD.search_text) p
        WHERE t.user_id = OLD.user_id AND t.lexeme = p.lexeme AND t.memory_id = OLD.id;
      INSERT INTO memory_terms (user_id, lexeme, memory_id, tf, len)
        SELECT NEW.user_id, p.lexeme, NEW.id, p.tf, p.len FROM memory_postings(NEW.search_text) p;
      RETURN NULL;
    END $$;
  CREATE TRIGGER memory_terms_insert AFTER INSERT ON memories
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_inserted();
  CREATE TRIGGER memory_terms_delete AFTER DELETE ON memories
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_deleted();
  CREATE TRIGGER memory_terms_rewrite AFTER UPDATE OF search_text ON memories FOR EACH ROW
    WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text) EXECUTE FUNCTION memory_terms_rewritten();
  -- A memory keeps its user and id (the store never changes them; the postings would not follow).
  CREATE FUNCTION memory_identity_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'a memory keeps its id and user_id' USING ERRCODE = 'check_violation';
    END $$;
  CREATE TRIGGER memory_identity BEFORE UPDATE OF id, user_id ON memories FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION memory_identity_kept();

  -- The GIN index and the column it indexed: unused (see above), and costly at every insert.
  DROP INDEX memories_search;
  ALTER TABLE memories DROP COLUMN search;
`;

/**
 * Each user's document frequencies (v8): how many of the user's memories hold each word, kept by
 * the same triggers as the postings (replaced here), so a keyword search reads one row per query
 * word instead of counting the word's postings (100k of them for a common word of a user with
 * 100k memories). A count that falls to zero takes its row with it: a forgotten memory leaves no
 * word behind. Every writer of a user's counts first holds the user's totals row
 * (`memory_terms_users`), so two writers of one user never wait on each other's counts in a circle.
 */
const DOCUMENT_FREQUENCY_SQL = `
  SELECT set_config('engram.scope', 'all', true);

  CREATE TABLE memory_terms_df (
    user_id text COLLATE "C" NOT NULL,
    lexeme  text COLLATE "C" NOT NULL,
    df      bigint NOT NULL CHECK (df > 0),
    PRIMARY KEY (user_id, lexeme)
  );
  INSERT INTO memory_terms_df SELECT user_id, lexeme, count(*) FROM memory_terms GROUP BY user_id, lexeme;
${ownedByUser('memory_terms_df')}

  CREATE OR REPLACE FUNCTION memory_terms_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      INSERT INTO memory_terms_users AS u (user_id, memories, words)
        SELECT user_id, count(*), sum(memory_length(search_text)) FROM new_rows GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET memories = u.memories + excluded.memories, words = u.words + excluded.words;
      WITH added AS (
        INSERT INTO memory_terms (user_id, lexeme, memory_id, tf, len)
          SELECT n.user_id, p.lexeme, n.id, p.tf, p.len FROM new_rows n, memory_postings(n.search_text) p
          RETURNING user_id, lexeme
      )
      INSERT INTO memory_terms_df AS f (user_id, lexeme, df)
        SELECT user_id, lexeme, count(*) FROM added GROUP BY user_id, lexeme ORDER BY user_id, lexeme
        ON CONFLICT (user_id, lexeme) DO UPDATE SET df = f.df + excluded.df;
      RETURN NULL;
    END $$;
  CREATE OR REPLACE FUNCTION memory_terms_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      PERFORM 1 FROM memory_terms_users WHERE user_id IN (SELECT user_id FROM old_rows) ORDER BY user_id FOR UPDATE;
      UPDATE memory_terms_users u SET memories = u.memories - d.memories, words = u.words - d.words
        FROM (SELECT user_id, count(*) AS memories, sum(memory_length(search_text)) AS words FROM old_rows GROUP BY user_id) d
        WHERE u.user_id = d.user_id;
      -- A user with no memory left leaves no row behind (a purge erases the user from here too).
      DELETE FROM memory_terms_users WHERE user_id IN (SELECT user_id FROM old_rows) AND memories = 0;
      -- The counts the deleted postings leave above zero are lowered, the others deleted (the two
      -- parts of one statement see the same counts, so each row is touched by one of them).
      WITH gone AS (
        DELETE FROM memory_terms t
          USING (SELECT o.user_id, o.id, p.lexeme FROM old_rows o, memory_postings(o.search_text) p) d
          WHERE t.user_id = d.user_id AND t.lexeme = d.lexeme AND t.memory_id = d.id
          RETURNING t.user_id, t.lexeme
      ), counted AS (
        SELECT user_id, lexeme, count(*) AS n FROM gone GROUP BY user_id, lexeme
      ), lowered AS (
        UPDATE memory_terms_df f SET df = f.df - c.n FROM counted c
          WHERE f.user_id = c.user_id AND f.lexeme = c.lexeme AND f.df > c.n
      )
      DELETE FROM memory_terms_df f USING counted c
        WHERE f.user_id = c.user_id AND f.lexeme = c.lexeme AND f.df <= c.n;
      RETURN NULL;
    END $$;
  CREATE OR REPLACE FUNCTION memory_terms_rewritten() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      UPDATE memory_terms_users SET words = words - memory_length(OLD.search_text) + memory_length(NEW.search_text)
        WHERE user_id = NEW.user_id;
      DELETE FROM memory_terms t USING memory_postings(OLD.search_text) p
        WHERE t.user_id = OLD.user_id AND t.lexeme = p.lexeme AND t.memory_id = OLD.id;
      INSERT INTO memory_terms (user_id, lexeme, memory_id, tf, len)
        SELECT NEW.user_id, p.lexeme, NEW.id, p.tf, p.len FROM memory_postings(NEW.search_text) p;
      -- The words that left and the words that came: counts of the words in both stay as they are.
      INSERT INTO memory_terms_df AS f (user_id, lexeme, df)
        SELECT NEW.user_id, lexeme, 1 FROM (
          SELECT lexeme FROM memory_postings(NEW.search_text) EXCEPT SELECT lexeme FROM memory_postings(OLD.search_text)
        ) came ORDER BY lexeme
        ON CONFLICT (user_id, lexeme) DO UPDATE SET df = f.df + 1;
      WITH went AS (
        SELECT lexeme FROM memory_postings(OLD.search_text) EXCEPT SELECT lexeme FROM memory_postings(NEW.search_text)
      ), lowered AS (
        UPDATE memory_terms_df f SET df = f.df - 1 FROM went
          WHERE f.user_id = OLD.user_id AND f.lexeme = went.lexeme AND f.df > 1
      )
      DELETE FROM memory_terms_df f USING went WHERE f.user_id = OLD.user_id AND f.lexeme = went.lexeme AND f.df = 1;
      RETURN NULL;
    END $$;
`;

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
  {
    version: 6,
    description:
      'keyword postings per user, kept at write time (replaces the GIN index row-level security could not use)',
    sql: KEYWORD_POSTINGS_SQL,
  },
  {
    version: 7,
    description: 'rows up to a page stay whole: vectors no longer go to the TOAST table',
    // PostgreSQL moves values out of a row into the TOAST table once the row passes ~2 KB, biggest
    // first, and a 512-d vector alone is 2 KB: every vector went there, so an exact scan fetched
    // each through the TOAST index (12× the buffers of the rows themselves). Storage MAIN on the
    // vector is no answer: the small columns (id, hash, times) would go instead. With the target
    // at a page, a row is only split when it cannot fit one (e.g. a long content moves out first).
    // New rows only: `engram compact` (VACUUM FULL) rewrites the existing ones.
    sql: 'ALTER TABLE memories SET (toast_tuple_target = 8160);',
  },
  {
    version: 8,
    description:
      'document frequencies per user and word, kept at write time (keyword search no longer counts postings)',
    sql: DOCUMENT_FREQUENCY_SQL,
  },
  {
    version: 9,
    description: "statistics on the vectors' dimension: the planner sees that nearly every row is in the HNSW index",
    // The HNSW index is partial (rows of its dimension, see ensureVectorIndex) and a search says
    // so (`vector_dims(embedding) = d`). Without statistics on that expression the planner
    // guesses it true of 0.5 % of rows, expects a user of 1,000 memories to have 5 there, and
    // walks the index of the whole store for them (iterative scan: 130 ms at 100k / 100 users,
    // against 5–10 ms for the exact scan of the user's rows). With them it knows the real share.
    sql: `
      SELECT set_config('engram.scope', 'all', true);
      CREATE STATISTICS memories_vector_dims ON (vector_dims(embedding)) FROM memories;
      ANALYZE memories;
    `,
  },
];

export const LATEST_VERSION = migrations.at(-1)?.version ?? 0;

/** Arbitrary but fixed: the advisory lock every Engram process takes while migrating. */
const MIGRATION_LOCK = 0x656e6772616d;

/** Brings `schema` to `to` (the latest version unless a test asks for an older one). */
export async function migrate(
  client: PoolClient | pg.Client,
  schema: string,
  to = LATEST_VERSION,
): Promise<{ from: number; to: number }> {
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
      if (step.version <= from || step.version > to) continue;
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
    return { from, to: Math.max(from, to) };
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
 * (`deferred`): the next call after the reindex builds it. The index is partial, on rows of its
 * dimension only: a build also reads row versions that another session's snapshot still sees, and
 * after a reindex those have the old dimension, which the cast would refuse ("expected 8
 * dimensions, not 16"; an index made before this is whole, and serves the same searches). Built
 * under the migration lock, without the statement timeout (a build over existing rows can take
 * minutes), in one transaction.
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
          `CREATE INDEX ${wanted} ON ${schema}.memories USING hnsw ((embedding::vector(${dimension})) vector_cosine_ops)
           WHERE vector_dims(embedding) = ${dimension}`,
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
