import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { LATEST_VERSION } from '../../src/stores/sqlite/migrations.js';
import { runConformance } from './conformance.js';

runConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'engram-sqlite-'));
  const path = join(dir, 'engram.db');
  let store = new SqliteStore({ path });
  return {
    store,
    async reopen() {
      await store.close();
      store = new SqliteStore({ path });
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store specifics', () => {
  it('runs in WAL mode with the schema at the latest version, and refuses a newer schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engram-sqlite-'));
    const path = join(dir, 'engram.db');
    try {
      const store = new SqliteStore({ path });
      await store.init();
      await store.close();
      const db = new Database(path);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
      db.pragma(`user_version = ${LATEST_VERSION + 1}`);
      db.close();
      await expect(new SqliteStore({ path }).init()).rejects.toThrow(/newer than this Engram understands/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
