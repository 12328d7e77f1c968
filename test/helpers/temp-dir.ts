import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Temporary directories for a test file, removed (with everything in them) once all of the file's
 * tests and its own `afterAll` hooks have run — so a server or store closed in an `afterAll` still
 * has its data dir. Vitest runs after-hooks in reverse order of registration, and this module's
 * hook is registered when the test file imports it, before any of the file's own.
 *
 * Test files only: importing it registers a vitest hook (scripts run by tsx, such as
 * test/reliability/crash-trials.ts, make and remove their own directories).
 */
const made: string[] = [];

afterAll(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A new empty directory under the OS temp dir, named `<prefix><random>`; removed after the file's tests. */
export async function tempDir(prefix = 'engram-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** `tempDir` for synchronous code (`describe` bodies, `it.each` tables). */
export function tempDirSync(prefix = 'engram-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
