/**
 * Builds or extends a user's approximate index (ann/) from the database, on the builder thread
 * (ann-build-worker.ts). The result is a new file — written, synced and renamed into place before
 * anything refers to it — that the main thread then records (sqlite-ann.ts). A kill at any point
 * leaves the database's state as it was: at worst a file nothing refers to, removed later.
 *
 * The rows are read in short transactions by rowid range: a long read would hold back the WAL's
 * checkpoints while the user keeps writing. That is safe because rowids are never reused
 * (migrations.ts, version 10): no row at or below the watermark can appear after it was read, a
 * row deleted since is dropped at search time, and a vector rewritten after the build began is
 * still listed in ann_changes, which only the changes this build saw are cleared from.
 */
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { fsyncPath } from '../../../util/files.js';
import { ANN_ROW_SQL, type AnnRow, newIndex, type UsearchIndex, wholeFile } from './ann-params.js';

export interface BuildTask {
  userId: string;
  /** The store's index directory. */
  dir: string;
  /** Threads usearch inserts with. */
  threads: number;
}

export type BuildResult =
  | {
      /**
       * The recorded index this build replaces (extended, or rebuilt when it was too stale or
       * unreadable; null: there was none). The record changes only if it is still this one.
       */
      basedOn: string | null;
      file: string;
      bytes: number;
      dimension: number;
      watermark: number;
      vectors: number;
      /** The last change (ann_changes) the build read. */
      changeSeq: number;
    }
  | { skipped: string };

/** Rows read per transaction and inserted per call. */
const CHUNK = 4_096;
/** Past this share of deleted or rewritten vectors, the index is built anew rather than extended. */
const REBUILD_SHARE = 0.2;

export function buildIndex(db: Database.Database, task: BuildTask): BuildResult {
  const snapshot = db.transaction(() => ({
    row: db.prepare(ANN_ROW_SQL).get(task.userId) as AnnRow | undefined,
    changeSeq: (
      db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM ann_changes WHERE user_id = ?').get(task.userId) as {
        seq: number;
      }
    ).seq,
    high: (
      db.prepare('SELECT coalesce(max(rowid), 0) AS high FROM vectors WHERE user_id = ?').get(task.userId) as {
        high: number;
      }
    ).high,
  }))();
  const { row, changeSeq, high } = snapshot;
  if (!row) return { skipped: 'the index was dropped' };
  const changed = (
    db.prepare('SELECT DISTINCT row FROM ann_changes WHERE user_id = ? AND seq <= ?').all(task.userId, changeSeq) as {
      row: number;
    }[]
  ).map((change) => change.row);

  let index: UsearchIndex | null = null;
  let from = 0;
  if (row.file && !rebuild(db, task.userId, row, changed.length)) {
    try {
      const path = wholeFile(task.dir, row as AnnRow & { file: string });
      index = newIndex(row.dimension);
      index.load(path);
      from = row.watermark;
    } catch {
      index = null; // unreadable: built anew below
    }
  }
  let dimension = index ? row.dimension : 0;
  const add = (rows: { rowid: number; embedding: Buffer }[]) => {
    if (rows.length === 0) return;
    if (!index) {
      dimension = (rows[0] as { embedding: Buffer }).embedding.byteLength / 4;
      index = newIndex(dimension);
    }
    const usable = rows.filter((r) => r.embedding.byteLength === dimension * 4);
    const keys = BigUint64Array.from(usable, (r) => BigInt(r.rowid));
    const matrix = new Float32Array(usable.length * dimension);
    usable.forEach((r, i) => {
      matrix.set(new Float32Array(r.embedding.buffer, r.embedding.byteOffset, dimension), i * dimension);
    });
    index.remove(keys); // a rewritten vector replaces its old one
    index.add(keys, matrix, task.threads);
  };
  if (index && changed.length > 0) {
    const select = db.prepare(
      'SELECT rowid, embedding FROM vectors WHERE user_id = ? AND rowid IN (SELECT value FROM json_each(?))',
    );
    for (let i = 0; i < changed.length; i += CHUNK) {
      add(
        select.all(task.userId, JSON.stringify(changed.slice(i, i + CHUNK))) as { rowid: number; embedding: Buffer }[],
      );
    }
  }
  const range = db.prepare(
    'SELECT rowid, embedding FROM vectors WHERE user_id = ? AND rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?',
  );
  for (let after = from; ; ) {
    const rows = range.all(task.userId, after, high, CHUNK) as { rowid: number; embedding: Buffer }[];
    if (rows.length === 0) break;
    add(rows);
    after = (rows.at(-1) as { rowid: number }).rowid;
  }
  const built = index as UsearchIndex | null;
  if (!built) return { skipped: 'the user has no vectors' };
  const file = `${createHash('sha256').update(task.userId).digest('hex').slice(0, 16)}-${randomUUID()}.usearch`;
  const bytes = write(built, task.dir, file);
  return { basedOn: row.file, file, bytes, dimension, watermark: high, vectors: built.size(), changeSeq };
}

/** Built anew when too much of the old index is deleted or rewritten rows. */
function rebuild(db: Database.Database, userId: string, row: AnnRow, changed: number): boolean {
  const { covered } = db
    .prepare('SELECT count(*) AS covered FROM vectors WHERE user_id = ? AND rowid <= ?')
    .get(userId, row.watermark) as { covered: number };
  return row.vectors - covered + changed > REBUILD_SHARE * Math.max(row.vectors, 1);
}

/** Saves, syncs and renames into place (owner-only, like the database); returns the file's size. */
function write(index: UsearchIndex, dir: string, file: string): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, file);
  const temporary = `${path}.tmp`;
  try {
    index.save(temporary);
    chmodSync(temporary, 0o600);
    fsyncPath(temporary);
    renameSync(temporary, path);
    fsyncPath(dir);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  return statSync(path).size;
}
