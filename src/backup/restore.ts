/**
 * Restores a backup over the SQLite store (with the server stopped). The backup is checked
 * first; it is copied beside the store and fsynced, the current store (with its -wal and -shm
 * files) is moved aside — never deleted — and the copy is renamed into place.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EngramError } from '../core/errors.js';
import { checkSqliteFile, type StoreCheck } from './check.js';

export interface RestoreReport extends StoreCheck {
  path: string;
  /** Where the store that was replaced went (its -wal / -shm beside it), if there was one. */
  previous: string | null;
}

export function restoreSqlite(backup: string, target: string, options: { force?: boolean } = {}): RestoreReport {
  if (!existsSync(backup)) throw new EngramError('not_found', `no backup at ${backup}`);
  const check = checkSqliteFile(backup);
  if (!check.ok) {
    throw new EngramError('invalid_request', `${backup} is not a usable backup: ${check.problems.join('; ')}`);
  }
  if (existsSync(target) && !options.force) {
    throw new EngramError(
      'conflict',
      `${target} exists: stop the server, then run engram restore-backup again with --force (the current store is kept beside it)`,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.restoring`);
  copyFileSync(backup, staging);
  // The staged copy must be complete on disk before anything is moved.
  const staged = checkSqliteFile(staging);
  if (!staged.ok) {
    rmSync(staging, { force: true });
    throw new EngramError('unavailable', `copying ${backup} failed: ${staged.problems.join('; ')}`);
  }
  let previous: string | null = null;
  if (existsSync(target)) {
    previous = `${target}.before-restore-${new Date().toISOString().replaceAll(/[-:.]/g, '')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(target + suffix)) renameSync(target + suffix, previous + suffix);
    }
  }
  renameSync(staging, target);
  return { ...staged, path: target, previous };
}
