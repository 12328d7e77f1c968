import { closeSync, fsyncSync, openSync } from 'node:fs';
import { access } from 'node:fs/promises';

/** Whether a path exists (any kind of entry). */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Flushes a file's (or a directory's entries') writes to disk, synchronously (for worker threads and offline tools). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
