import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Files hold users' data: what `engram serve` and `engram backup` create — the SQLite database,
 * its WAL and shared-memory files, knowledge-base notes and git objects, backups — is readable by
 * its owner only (files 0600, directories 0700), whatever the umask of the shell that started it.
 */
const mode = async (path: string) => (await stat(path)).mode & 0o777;

/** Every file and directory under `root`, with its permission bits. */
async function walk(root: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out.push({ path, dir: entry.isDirectory(), mode: await mode(path) });
  }
  return out;
}

describe('files Engram creates are private to their owner', () => {
  it('creates the database, WAL, notes, git objects and backups 0600 and their directories 0700', async () => {
    const parent = await tempDir('engram-modes-');
    const dataDir = join(parent, 'data');
    const previous = process.umask(0o022); // the usual shell umask, inherited by the server
    let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
    try {
      server = await spawnServer(['--data-dir', dataDir]);
      const post = (path: string, body: unknown) =>
        fetch(new URL(path, server?.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await post('/v1/memories', { content: 'my bank PIN is 4321' })).status).toBe(201);
      expect((await post('/v1/kb/notes', { title: 'Health', body: '# Health\nBlood type O negative.' })).status).toBe(
        201,
      );
      const backup = await runCli(['backup', '--data-dir', dataDir]);
      expect(backup.code, backup.stderr).toBe(0);
    } finally {
      server?.child.kill('SIGTERM');
      if (server) await new Promise((resolve) => server?.child.once('exit', resolve));
      process.umask(previous);
    }
    const entries = await walk(dataDir);
    const names = entries.map((entry) => entry.path.slice(dataDir.length + 1));
    expect(names).toEqual(expect.arrayContaining(['engram.db', 'kb']));
    expect(names.some((name) => /^backups\/engram-.*\.db$/.test(name))).toBe(true);
    expect(names.some((name) => name.startsWith('kb/topics/general/') && name.endsWith('-health.md'))).toBe(true);
    expect(names.some((name) => name.startsWith('kb/.git/objects/'))).toBe(true);
    expect(await mode(dataDir)).toBe(0o700);
    const open = entries.filter((entry) => (entry.mode & 0o077) !== 0).map((entry) => entry.path);
    expect(open).toEqual([]);
  }, 120_000);
});
