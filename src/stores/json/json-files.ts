import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { EngramError } from '../../core/errors.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { ioError, isErrno } from './json-format.js';

export function fingerprintOf(info: { ino: number; size: number; mtimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `text` atomically; `beforeRename` may throw to abandon the write. Returns the
 * new file's fingerprint, taken after the rename, which is safe because the caller holds the file's lock
 * and a cache entry also has to match the file's revision token.
 */
export async function replaceFile(file: string, text: string, beforeRename: () => void): Promise<string> {
  try {
    await writeFileAtomic(file, text, 0o600, beforeRename);
    return fingerprintOf(await stat(file));
  } catch (error) {
    if (error instanceof EngramError) throw error;
    throw ioError('write', file, error);
  }
}

/** The file's text, or null when it does not exist. */
export async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw ioError('read', file, error);
  }
}

/** Creates `dir` if needed, syncing its parent so that the new entry survives a crash. */
export async function ensureDir(dir: string, parent: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) await syncDir(parent);
  } catch (error) {
    throw ioError('create', dir, error);
  }
}

/** Moves `dir` to `trash` in one rename (so no half-deleted directory is ever visible), then deletes it. */
export async function removeDir(dir: string, trash: string, parent: string): Promise<void> {
  try {
    await rename(dir, trash);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw ioError('remove', dir, error);
  }
  await syncDir(parent);
  await rm(trash, { recursive: true, force: true });
}

/** Names of the subdirectories of `dir`; none when `dir` does not exist. */
export async function subdirectories(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw ioError('list', dir, error);
  }
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

export async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 0;
    throw ioError('stat', file, error);
  }
}
