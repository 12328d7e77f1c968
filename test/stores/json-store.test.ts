import { fork } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEngramError } from '../../src/core/errors.js';
import { createJsonStore, type JsonStoreOptions } from '../../src/stores/json/index.js';
import { replaceFile } from '../../src/stores/json/json-files.js';
import { FileLocks } from '../../src/stores/json/json-lock.js';
import { migrateDocument } from '../../src/stores/json/migrations.js';
import type { MemoryStore } from '../../src/stores/store.js';
import { tempDir } from '../helpers/temp-dir.js';
import { filter, historyEntry, idAt, makeMemory, runConformance, seed, vec } from './conformance.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

runConformance('json', async () => {
  const dataDir = await tempDir('engram-json-');
  let current = createJsonStore({ dataDir });
  return {
    store: current,
    async reopen() {
      await current.close();
      current = createJsonStore({ dataDir });
      return current;
    },
    async cleanup() {
      await current.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe('json store files', () => {
  let dataDir: string;
  let store: MemoryStore;
  const userDir = (userId: string): string => join(dataDir, 'memory', `user_${userId}`);
  const userFile = (userId: string): string => join(userDir(userId), 'memories.json');
  const open = async (options: Partial<JsonStoreOptions> = {}): Promise<MemoryStore> => {
    const opened = createJsonStore({ dataDir, ...options });
    await opened.init();
    return opened;
  };

  beforeEach(async () => {
    dataDir = await tempDir('engram-json-');
    store = await open();
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps one readable memories.json per user, with base64 float32 little-endian vectors', async () => {
    const memory = makeMemory(1, { content: 'readable on disk' });
    await seed(store, [memory], new Map([[memory.id, vec(0.5, -2, 3.25)]]));
    const doc = JSON.parse(await readFile(userFile('alice'), 'utf8'));
    expect(doc).toMatchObject({ format: 1, userId: 'alice', memories: [memory] });
    const bytes = Buffer.from(doc.vectors[memory.id], 'base64');
    expect(Array.from({ length: 8 }, (_, i) => bytes.readFloatLE(i * 4))).toEqual([0.5, -2, 3.25, 0, 0, 0, 0, 0]);
    expect(doc.history.map((entry: { event: string }) => entry.event)).toEqual(['add']);
    expect(JSON.parse(await readFile(join(dataDir, 'memory', 'store.json'), 'utf8'))).toMatchObject({ format: 1 });
  });

  it('writes atomically: a concurrent reader always parses a whole file and no temp file is left', async () => {
    await seed(store, [makeMemory(0)]);
    let writing = true;
    let parsed = 0;
    const reader = (async () => {
      while (writing) {
        JSON.parse(await readFile(userFile('alice'), 'utf8'));
        parsed++;
      }
    })();
    for (let n = 1; n <= 40; n++) await seed(store, [makeMemory(n)]);
    writing = false;
    await reader;
    expect(parsed).toBeGreaterThan(0);
    expect((await readdir(userDir('alice'))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(JSON.parse(await readFile(userFile('alice'), 'utf8')).memories).toHaveLength(41);
  });

  it('two processes adding to the same user at once lose no write', async () => {
    const perWriter = 40;
    const startAt = Date.now() + 1_500;
    const writers = ['one', 'two'].map((label) =>
      runWriter([dataDir, 'shared', String(perWriter), label, String(startAt)]),
    );
    expect(await Promise.all(writers)).toEqual([0, 0]);
    const reader = await open();
    try {
      const page = await reader.list('shared', { filter: filter(), limit: 1_000 });
      expect(page.items).toHaveLength(perWriter * 2);
      expect(await reader.categories('shared', filter())).toEqual([
        { category: 'one', count: perWriter },
        { category: 'two', count: perWriter },
      ]);
      const doc = JSON.parse(await readFile(userFile('shared'), 'utf8'));
      expect(doc.history).toHaveLength(perWriter * 2);
    } finally {
      await reader.close();
    }
  }, 60_000);

  it('a second store on the same directory sees the first one’s writes at once', async () => {
    const other = await open();
    try {
      const memory = makeMemory(1);
      await seed(store, [memory]);
      expect(await other.get('alice', memory.id)).toEqual(memory);
      const updated = { ...memory, pinned: true, updatedAt: new Date().toISOString() };
      await other.update(updated, null, historyEntry('update', memory, updated));
      expect(await store.get('alice', memory.id)).toEqual(updated);
      await seed(store, [makeMemory(2)]);
      expect((await other.list('alice', { filter: filter(), limit: 10 })).items).toHaveLength(2);
    } finally {
      await other.close();
    }
  });

  it('a damaged memories.json gives an error naming the file and is never overwritten', async () => {
    await seed(store, [makeMemory(1)]);
    const damaged = '{"format": 1, "revision": "x", "memories": [{"id": ';
    await writeFile(userFile('alice'), damaged);
    const failure = await store.get('alice', idAt(1)).catch((error: unknown) => error);
    expect(isEngramError(failure) && failure.code).toBe('internal');
    expect((failure as Error).message).toContain(userFile('alice'));
    await expect(seed(store, [makeMemory(2)])).rejects.toThrow(userFile('alice'));
    expect(await readFile(userFile('alice'), 'utf8')).toBe(damaged);
    const fresh = await open();
    await expect(fresh.list('alice', { filter: filter(), limit: 10 })).rejects.toThrow(/damaged/);
    await fresh.close();
  });

  it('a memories.json with a malformed memory names the file and the field', async () => {
    await seed(store, [makeMemory(1)]);
    const doc = JSON.parse(await readFile(userFile('alice'), 'utf8'));
    delete doc.memories[0].content;
    await writeFile(userFile('alice'), JSON.stringify(doc));
    await expect(store.get('alice', idAt(1))).rejects.toThrow(/memories\.json is damaged: memories\.0\.content/);
  });

  it('a file from a newer Engram is refused with a clear error', async () => {
    await seed(store, [makeMemory(1)]);
    const doc = JSON.parse(await readFile(userFile('alice'), 'utf8'));
    await writeFile(userFile('alice'), JSON.stringify({ ...doc, format: 2 }));
    const failure = await store.get('alice', idAt(1)).catch((error: unknown) => error);
    expect(isEngramError(failure) && failure.code).toBe('unavailable');
    expect((failure as Error).message).toMatch(/format version 2.*newer Engram.*reads format 1/);
  });

  it('migrations upgrade older documents step by step', () => {
    const steps = [{ from: 1, description: 'rename', up: (d: Record<string, unknown>) => ({ ...d, renamed: d.old }) }];
    const result = migrateDocument('user', { format: 1, old: 'x' }, 'f.json', { migrations: steps, target: 2 });
    expect(result).toEqual({ ok: true, document: { format: 2, old: 'x', renamed: 'x' }, from: 1, migrated: true });
    const missing = migrateDocument('user', { memories: [] }, 'f.json');
    expect(missing.ok).toBe(false);
  });

  it('refuses user ids that could leave the data directory', async () => {
    for (const userId of ['..', '../outside', 'a/../../b', '/etc', '.hidden', 'a\\b', '']) {
      await expect(store.get(userId, idAt(1))).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(seed(store, [makeMemory(1, { userId })])).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(store.purgeUser(userId)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    expect((await readdir(dataDir)).sort()).toEqual(['memory']);
    expect((await readdir(join(dataDir, 'memory'))).filter((name) => !name.startsWith('.'))).toEqual(['store.json']);
  });

  it('purgeUser deletes the user’s directory', async () => {
    await seed(store, [makeMemory(1), makeMemory(2, { userId: 'bob' })]);
    expect(await store.purgeUser('alice')).toBe(1);
    await expect(stat(userDir('alice'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(join(dataDir, 'memory'))).filter((name) => !name.startsWith('.')).sort()).toEqual([
      'store.json',
      'user_bob',
    ]);
  });

  it('a write waiting on a held lock fails with store_locked; reads still work', async () => {
    await seed(store, [makeMemory(1)]);
    const lock = join(dataDir, 'memory', '.locks', 'user_alice.lock');
    await mkdir(lock);
    const impatient = await open({ lockTimeoutMs: 200 });
    try {
      await expect(seed(impatient, [makeMemory(2)])).rejects.toMatchObject({ code: 'store_locked' });
      expect(await impatient.get('alice', idAt(1))).not.toBeNull();
      await rm(lock, { recursive: true });
      await seed(impatient, [makeMemory(2)]);
      expect(await impatient.get('alice', idAt(2))).not.toBeNull();
    } finally {
      await impatient.close();
    }
  });

  it('a lock left behind by a crashed process is taken over once stale', async () => {
    const lock = join(dataDir, 'memory', '.locks', 'user_alice.lock');
    await mkdir(lock);
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, minuteAgo, minuteAgo);
    await seed(store, [makeMemory(1)]);
    expect(await store.get('alice', idAt(1))).not.toBeNull();
  });

  it('a writer that lost its lock abandons the write before replacing the file', async () => {
    await seed(store, [makeMemory(1)]);
    const before = await readFile(userFile('alice'), 'utf8');
    const locksDir = join(dataDir, 'memory', '.locks');
    const locks = new FileLocks({ locksDir, lockTimeoutMs: 1_000, lockStaleMs: 2_000 });
    const write = locks.run(join(locksDir, 'user_alice'), async (beforeCommit) => {
      await rm(join(locksDir, 'user_alice.lock'), { recursive: true });
      await sleep(1_500); // proper-lockfile notices the loss when it next refreshes the lock (every lockStaleMs / 2)
      await replaceFile(userFile('alice'), 'not json', beforeCommit);
    });
    await expect(write).rejects.toMatchObject({ code: 'store_locked' });
    expect(await readFile(userFile('alice'), 'utf8')).toBe(before);
    expect((await readdir(userDir('alice'))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('calls after close fail clearly', async () => {
    await store.close();
    await expect(store.get('alice', idAt(1))).rejects.toMatchObject({ code: 'unavailable' });
    store = await open();
  });

  it('rejects a bad configuration naming the setting', () => {
    expect(() => createJsonStore({ dataDir: '' })).toThrow(/dataDir/);
    expect(() => createJsonStore({ dataDir, lockStaleMs: 10 })).toThrow(/lockStaleMs/);
  });
});

function runWriter(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'fixtures', 'json-writer.ts'), args, {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}
