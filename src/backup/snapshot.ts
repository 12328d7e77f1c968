/**
 * Online backups of the SQLite store. `VACUUM INTO` copies the database as one read transaction:
 * the copy is the store as of that instant — every write committed before it started, none that
 * committed after — while writers carry on (WAL mode: readers do not block them). The copy is
 * written beside its target, checked, fsynced and renamed into place, so a backup file is never
 * half-written.
 */
import { chmodSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { EngramError } from '../core/errors.js';
import { fsyncPath } from '../util/files.js';
import { checkSqliteFile, type StoreCheck } from './check.js';

export interface BackupReport extends StoreCheck {
  path: string;
  bytes: number;
  ms: number;
}

const PREFIX = 'engram-';
const SUFFIX = '.db';

/** A backup file name that sorts by time: engram-20261203T120000123Z.db. */
export function backupFileName(now = new Date()): string {
  return `${PREFIX}${now.toISOString().replaceAll(/[-:]/g, '').replace('.', '')}${SUFFIX}`;
}

export function snapshotSqlite(source: string, target: string): BackupReport {
  const started = performance.now();
  const partial = join(dirname(target), `.${basename(target)}.partial`);
  rmSync(partial, { force: true });
  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new EngramError('not_found', `cannot open the SQLite store ${source}: ${(error as Error).message}`);
  }
  try {
    db.prepare('VACUUM INTO ?').run(partial);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new EngramError('unavailable', `backup of ${source} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    db.close();
  }
  const check = checkSqliteFile(partial);
  if (!check.ok) {
    rmSync(partial, { force: true });
    throw new EngramError('unavailable', `the backup of ${source} failed its check: ${check.problems.join('; ')}`);
  }
  chmodSync(partial, 0o600); // a backup holds every user's memories
  fsyncPath(partial);
  renameSync(partial, target);
  fsyncPath(dirname(target));
  return { ...check, path: target, bytes: statSync(target).size, ms: performance.now() - started };
}

/** Deletes the oldest `engram-*.db` backups in `dir` beyond the newest `keep`; returns the deleted paths. */
export function pruneBackups(dir: string, keep: number): string[] {
  const backups = readdirSync(dir)
    .filter((name) => name.startsWith(PREFIX) && name.endsWith(SUFFIX))
    .sort()
    .reverse();
  const removed = backups.slice(Math.max(keep, 0)).map((name) => join(dir, name));
  for (const path of removed) rmSync(path, { force: true });
  return removed;
}
