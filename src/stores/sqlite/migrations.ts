import type Database from 'better-sqlite3';
import { Statements } from './sqlite-statements.js';
import { TermCounts } from './sqlite-terms.js';

/**
 * Versioned schema migrations, tracked in SQLite's `user_version`. Each step runs in its own
 * transaction; a database from a newer Engram is refused rather than guessed at.
 */
export const migrations: { version: number; description: string; up: (db: Database.Database) => void }[] = [
  {
    version: 1,
    description: 'memories, vectors, full-text index, history, store metadata',
    up(db) {
      db.exec(`
        CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

        CREATE TABLE memories (
          rowid         INTEGER PRIMARY KEY,
          id            TEXT NOT NULL UNIQUE,
          user_id       TEXT NOT NULL,
          agent_id      TEXT,
          session_id    TEXT,
          content       TEXT NOT NULL,
          category      TEXT NOT NULL,
          tags          TEXT NOT NULL,
          metadata      TEXT NOT NULL,
          created_at    TEXT NOT NULL,
          updated_at    TEXT NOT NULL,
          event_at      TEXT,
          expires_at    TEXT,
          pinned        INTEGER NOT NULL,
          source        TEXT NOT NULL,
          hash          TEXT NOT NULL,
          superseded_by TEXT,
          valid_to      TEXT,
          -- One full-text token per user (hex of the id, so the tokenizer keeps it whole): keyword
          -- search intersects it with the query terms instead of matching every user's rows.
          owner         TEXT GENERATED ALWAYS AS ('u' || hex(user_id)) VIRTUAL
        ) STRICT;
        CREATE INDEX memories_user_id ON memories (user_id, id);
        CREATE INDEX memories_user_hash ON memories (user_id, hash, id);
        CREATE INDEX memories_user_category ON memories (user_id, category);

        -- Vectors live beside the rows (same rowid) so a scan reads only what it needs.
        CREATE TABLE vectors (
          rowid     INTEGER PRIMARY KEY,
          user_id   TEXT NOT NULL,
          embedding BLOB NOT NULL
        ) STRICT;
        CREATE INDEX vectors_user ON vectors (user_id);

        CREATE VIRTUAL TABLE memories_fts USING fts5(
          owner, content, content='memories', content_rowid='rowid',
          tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
          INSERT INTO memories_fts (rowid, owner, content) VALUES (new.rowid, new.owner, new.content);
        END;
        CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
          INSERT INTO memories_fts (memories_fts, rowid, owner, content) VALUES ('delete', old.rowid, old.owner, old.content);
          DELETE FROM vectors WHERE rowid = old.rowid;
        END;
        CREATE TRIGGER memories_fts_update AFTER UPDATE OF content ON memories BEGIN
          INSERT INTO memories_fts (memories_fts, rowid, owner, content) VALUES ('delete', old.rowid, old.owner, old.content);
          INSERT INTO memories_fts (rowid, owner, content) VALUES (new.rowid, new.owner, new.content);
        END;

        CREATE TABLE history (
          rowid     INTEGER PRIMARY KEY,
          id        TEXT NOT NULL UNIQUE,
          memory_id TEXT NOT NULL,
          user_id   TEXT NOT NULL,
          event     TEXT NOT NULL,
          before    TEXT,
          after     TEXT,
          actor     TEXT NOT NULL,
          at        TEXT NOT NULL,
          reason    TEXT
        ) STRICT;
        CREATE INDEX history_user_memory ON history (user_id, memory_id, rowid);
      `);
    },
  },
  {
    version: 2,
    description: 'index conversation order within a session (search lends context to neighbours)',
    up(db) {
      db.exec('CREATE INDEX memories_user_session ON memories (user_id, session_id, created_at, id);');
    },
  },
  {
    version: 3,
    description: 'background jobs (asynchronous ingest), claimed with leases',
    up(db) {
      db.exec(`
        CREATE TABLE jobs (
          rowid       INTEGER PRIMARY KEY,
          id          TEXT NOT NULL UNIQUE,
          user_id     TEXT NOT NULL,
          kind        TEXT NOT NULL,
          status      TEXT NOT NULL,
          payload     TEXT NOT NULL,
          result      TEXT,
          error       TEXT,
          attempts    INTEGER NOT NULL,
          created_at  TEXT NOT NULL,
          updated_at  TEXT NOT NULL,
          run_after   TEXT NOT NULL,
          lease       TEXT,
          lease_until TEXT
        ) STRICT;
        CREATE INDEX jobs_user ON jobs (user_id, id);
        -- Claims walk only the unfinished jobs, oldest first.
        CREATE INDEX jobs_pending ON jobs (id) WHERE status IN ('queued', 'running');
      `);
    },
  },
  {
    version: 4,
    description: 'access statistics; index expiry for the sweeper',
    up(db) {
      db.exec(`
        ALTER TABLE memories ADD COLUMN access_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE memories ADD COLUMN last_accessed_at TEXT;
        CREATE INDEX memories_expires_at ON memories (expires_at) WHERE expires_at IS NOT NULL;
      `);
    },
  },
  {
    version: 5,
    description: 'index deletions per user (recently deleted memories)',
    up(db) {
      db.exec(`CREATE INDEX history_user_deletes ON history (user_id, id) WHERE event = 'delete';`);
    },
  },
  {
    version: 6,
    description: 'index finished jobs by age (job retention)',
    up(db) {
      db.exec(`CREATE INDEX jobs_finished ON jobs (updated_at) WHERE status IN ('succeeded', 'failed');`);
    },
  },
  {
    version: 7,
    description: 'index new memories for full-text search in the insert itself, not by trigger',
    up(db) {
      // A trigger's full-text insert runs inside the INSERT's statement savepoint, where FTS5
      // flushes its pending terms: one index segment per memory, and merge work that grew with the
      // index (inserting 20k memories took 1.8 s into an empty user, 11.6 s past 160k).
      // Inserted by the writer (sqlite-writes.ts), the rows of a batch make one segment.
      db.exec('DROP TRIGGER memories_fts_insert;');
    },
  },
  {
    version: 8,
    description: 'larger full-text index pages, so the merges of a large user stay cheap',
    up(db) {
      // Every memory of a user carries its owner token, so that term's doclist holds the whole user
      // and grows with it. With FTS5's default 4,000-byte pages, its merges, spread over the commits
      // of batch adds, cost more as the user grew: 0 → 1M memories into one user slowed 3.5× by the
      // end (bench:growth). With 16,000-byte pages and a larger page cache (ENGRAM_SQLITE_CACHE_MB),
      // the slowest 100k took 1.15× the first's time (BENCHMARKS.md). Applies to segments written
      // from now on; the merges rewrite the old ones over time.
      db.exec(`INSERT INTO memories_fts (memories_fts, rank) VALUES ('pgsz', 16000);`);
    },
  },
  {
    version: 9,
    description: "each user's memory count and content bytes, kept at write time (per-user limits)",
    up(db) {
      // With per-user limits on, every insert asked for the user's usage: a count and a sum over
      // all of the user's rows (the sum reads each row), which grew with the user. The figures are
      // kept as rows change instead: inserts (every one goes through insertRecords) add theirs in
      // one statement per user and batch; deletes and content rewrites, wherever they come from
      // (delete, forget, purge, compact, update), by trigger. An insert trigger would be simpler
      // but made batch inserts 36 % slower (a statement journal per row).
      db.exec(`
        CREATE TABLE user_usage (
          user_id  TEXT PRIMARY KEY,
          memories INTEGER NOT NULL,
          bytes    INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        INSERT INTO user_usage (user_id, memories, bytes)
          SELECT user_id, count(*), coalesce(sum(length(CAST(content AS BLOB))), 0) FROM memories GROUP BY user_id;
        CREATE TRIGGER memories_usage_delete AFTER DELETE ON memories BEGIN
          UPDATE user_usage SET memories = memories - 1, bytes = bytes - length(CAST(old.content AS BLOB))
            WHERE user_id = old.user_id;
        END;
        CREATE TRIGGER memories_usage_update AFTER UPDATE OF content ON memories BEGIN
          UPDATE user_usage
            SET bytes = bytes - length(CAST(old.content AS BLOB)) + length(CAST(new.content AS BLOB))
            WHERE user_id = new.user_id;
        END;
      `);
    },
  },
  {
    version: 10,
    description:
      'approximate vector indexes of large users: their state, the vectors changed since, rowids never reused',
    up(db) {
      // An index file (ann/) covers a user's vectors up to `watermark`, the largest rowid it read;
      // search scans the rows past it exactly. That needs rowids that are never reused: SQLite
      // reuses the largest after it is deleted, so inserts (sqlite-writes.ts) number their rows
      // from `rowid_high`, the largest ever given. Vectors rewritten under an index (a re-embed,
      // an update) are listed in ann_changes until the next build reads them; AUTOINCREMENT keeps
      // their sequence increasing, so a build clears exactly the changes it saw.
      db.exec(`
        CREATE TABLE ann_indexes (
          user_id    TEXT PRIMARY KEY,
          file       TEXT,
          bytes      INTEGER NOT NULL DEFAULT 0,
          dimension  INTEGER NOT NULL DEFAULT 0,
          watermark  INTEGER NOT NULL DEFAULT 0,
          vectors    INTEGER NOT NULL DEFAULT 0,
          built_at   TEXT
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE ann_changes (
          seq     INTEGER PRIMARY KEY AUTOINCREMENT,
          user_id TEXT NOT NULL,
          row     INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX ann_changes_user ON ann_changes (user_id, seq);
        CREATE TRIGGER vectors_ann_change AFTER UPDATE OF embedding ON vectors
          WHEN EXISTS (SELECT 1 FROM ann_indexes WHERE user_id = new.user_id)
        BEGIN
          INSERT INTO ann_changes (user_id, row) VALUES (new.user_id, new.rowid);
        END;
        INSERT INTO store_meta (key, value) SELECT 'rowid_high', CAST(coalesce(max(rowid), 0) AS TEXT) FROM memories;
      `);
    },
  },
  {
    version: 11,
    description: "each user's keyword statistics (memories per word stem), kept at write time",
    up(db) {
      // Keyword ranking weighs each query word by how many of the user's memories contain it;
      // counting that in the full-text index read the user's whole `owner` doclist per word
      // (sqlite-terms.ts). Kept by the writers, not by trigger: a trigger would need Engram's
      // stemmer as an SQL function, and any other program deleting a row would then fail.
      db.exec(`
        CREATE TABLE user_terms (
          user_id  TEXT NOT NULL,
          term     TEXT NOT NULL,
          memories INTEGER NOT NULL,
          PRIMARY KEY (user_id, term)
        ) STRICT, WITHOUT ROWID;
      `);
      const counts = new TermCounts();
      for (const row of db.prepare('SELECT user_id, content FROM memories').iterate() as Iterable<{
        user_id: string;
        content: string;
      }>)
        counts.add(row.user_id, row.content);
      counts.save(new Statements(() => db));
    },
  },
];

export const LATEST_VERSION = migrations.at(-1)?.version ?? 0;

export function migrate(db: Database.Database, file: string): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > LATEST_VERSION) {
    throw new Error(
      `${file} has schema version ${from}, newer than this Engram understands (${LATEST_VERSION}); upgrade Engram`,
    );
  }
  for (const step of migrations) {
    if (step.version <= from) continue;
    db.transaction(() => {
      step.up(db);
      db.pragma(`user_version = ${step.version}`);
    }).immediate();
  }
  // Keep planner statistics current for a long-lived connection (SQLite's advice for apps).
  db.pragma('optimize = 0x10002');
  return { from, to: LATEST_VERSION };
}
