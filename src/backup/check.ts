/**
 * Integrity check of an Engram SQLite file: SQLite's own page-level check, the full-text index
 * against its content table, and Engram's invariants (every memory has its vector and at least
 * one history entry, and the full-text index has one row per memory).
 */
import Database from 'better-sqlite3';
import { LATEST_VERSION } from '../stores/sqlite/index.js';

export interface StoreCheck {
  ok: boolean;
  problems: string[];
  schemaVersion: number;
  memories: number;
  users: number;
}

export function checkSqliteFile(path: string): StoreCheck {
  const unusable = (problem: string): StoreCheck => ({
    ok: false,
    problems: [problem],
    schemaVersion: 0,
    memories: 0,
    users: 0,
  });
  let db: Database.Database;
  let schemaVersion: number;
  try {
    // Read-write: FTS5's integrity-check is spelled as an INSERT (it changes nothing).
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    return unusable(`cannot open: ${(error as Error).message}`);
  }
  try {
    schemaVersion = db.pragma('user_version', { simple: true }) as number;
  } catch (error) {
    db.close();
    return unusable(`not a SQLite database (${(error as Error).message})`);
  }
  try {
    const problems: string[] = [];
    if (schemaVersion === 0)
      return { ok: false, problems: ['not an Engram store (schema version 0)'], schemaVersion, memories: 0, users: 0 };
    if (schemaVersion > LATEST_VERSION) {
      problems.push(`schema version ${schemaVersion} is newer than this Engram understands (${LATEST_VERSION})`);
    }
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
    try {
      db.prepare(`INSERT INTO memories_fts(memories_fts) VALUES ('integrity-check')`).run();
    } catch (error) {
      problems.push(`full-text index: ${(error as Error).message}`);
    }
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const memories = count('SELECT count(*) AS n FROM memories');
    const users = count('SELECT count(DISTINCT user_id) AS n FROM memories');
    const withoutVector = count(
      'SELECT count(*) AS n FROM memories m WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.rowid = m.rowid)',
    );
    if (withoutVector > 0) problems.push(`${withoutVector} memories without a vector`);
    const withoutHistory = count(
      'SELECT count(*) AS n FROM memories m WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.memory_id = m.id)',
    );
    if (withoutHistory > 0) problems.push(`${withoutHistory} memories without history`);
    return { ok: problems.length === 0, problems, schemaVersion, memories, users };
  } finally {
    db.close();
  }
}
