import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { prng, unitVector } from '../../bench/gen.js';
import { SQLITE_CACHE_MB, SQLITE_MMAP_MB, SqliteStore, sqliteConfigSchema } from '../../src/stores/sqlite/index.js';
import { LATEST_VERSION } from '../../src/stores/sqlite/migrations.js';
import { SqliteDb } from '../../src/stores/sqlite/sqlite-db.js';
import { filterSql } from '../../src/stores/sqlite/sqlite-filter.js';
import { hashLookupSql } from '../../src/stores/sqlite/sqlite-memories.js';
import { termsOf } from '../../src/stores/sqlite/sqlite-terms.js';
import { watchEventLoop } from '../helpers/event-loop.js';
import { tempDir } from '../helpers/temp-dir.js';
import { DIMENSION, filter, idAt, makeMemory, runConformance, vectorFor } from './conformance.js';
import { historyEntry } from './conformance-data.js';

runConformance('sqlite', async () => {
  const dir = await tempDir('engram-sqlite-');
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

/**
 * The same suite answered through the approximate index (src/stores/sqlite/ann/): every user has one
 * from their first memory, and every other vector search first builds or extends it, so the suite's
 * searches run both right after a build and with writes since (rows past the index, rewritten
 * vectors, deletes) — each must answer exactly as the exact scan does.
 */
runConformance('sqlite (approximate index)', async () => {
  const dir = await tempDir('engram-sqlite-ann-');
  const path = join(dir, 'engram.db');
  const open = (): SqliteStore => {
    const sqlite = new SqliteStore({ path, annMinMemories: 1 });
    let searches = 0;
    return new Proxy(sqlite, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (property !== 'vectorSearch' || typeof value !== 'function') {
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (userId: string, ...rest: unknown[]) => {
          if (searches++ % 2 === 0) await target.ann.build(userId);
          return (value as (...args: unknown[]) => unknown).call(target, userId, ...rest);
        };
      },
    });
  };
  let store = open();
  return {
    store,
    async reopen() {
      await store.close();
      store = open();
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** Without version 11's keyword statistics (what every version before it had). */
const WITHOUT_TERMS = 'DROP TABLE user_terms;';

/** Without version 10's approximate-index state (what every version before it had). */
const WITHOUT_ANN = `${WITHOUT_TERMS}
  DROP TRIGGER vectors_ann_change; DROP TABLE ann_changes; DROP TABLE ann_indexes; DELETE FROM store_meta WHERE key = 'rowid_high';`;

/** Without version 9's usage counts (what every version before it had). */
const WITHOUT_USAGE = `${WITHOUT_ANN} DROP TRIGGER memories_usage_delete; DROP TRIGGER memories_usage_update; DROP TABLE user_usage;`;

/**
 * A store in `dir` holding alice's memories of `contents`, taken back to schema `version` by the
 * SQL `downgrade` (as an older Engram left it), then opened again: the migrations since run.
 */
async function upgradedFrom(dir: string, contents: string[], version: number, downgrade: string): Promise<SqliteStore> {
  const path = join(dir, 'engram.db');
  const store = new SqliteStore({ path, readers: 0 });
  await store.init();
  await store.insert(
    contents.map((content, i) => ({ memory: makeMemory(i + 1, { content }), vector: vectorFor(i + 1) })),
    [],
  );
  await store.close();
  const old = new Database(path);
  old.exec(downgrade);
  old.pragma(`user_version = ${version}`);
  old.close();
  const upgraded = new SqliteStore({ path, readers: 0 });
  await upgraded.init();
  return upgraded;
}

describe('sqlite store specifics', () => {
  it('reports how much of the query each keyword hit covers, each word weighed by its rarity in the user’s memories', async () => {
    const dir = await tempDir('engram-sqlite-');
    const store = new SqliteStore({ path: join(dir, 'engram.db') });
    await store.init();
    try {
      const contents = [
        'I should call the plumber',
        'we should book the tickets',
        'you should water the plants',
        'peanut sauce should be avoided: I am allergic to peanuts',
      ];
      await store.insert(
        contents.map((content, i) => ({ memory: makeMemory(i + 1, { content }), vector: vectorFor(i + 1) })),
        [],
      );
      const hits = await store.keywordSearch('alice', ['should', 'peanuts'], filter(), 10);
      const coverage = new Map(hits.map((hit) => [hit.id, hit.coverage as number]));
      // "peanuts" is rare in Alice's memories, "should" is in all of them.
      expect(coverage.get(idAt(4))).toBeCloseTo(1, 6);
      for (const id of [idAt(1), idAt(2), idAt(3)]) expect(coverage.get(id)).toBeLessThan(0.2);
      expect(hits[0]?.id).toBe(idAt(4));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('past 2,000 matching memories, ranks a pool led by the rarest words: the rare match still comes first', async () => {
    const dir = await tempDir('engram-sqlite-');
    const store = new SqliteStore({ path: join(dir, 'engram.db') });
    await store.init();
    try {
      // 2,400 memories with "weather" (older and newer), then in the middle three with "glacier" too.
      const content = (n: number) =>
        n >= 1_200 && n < 1_203 ? `glacier hike, the weather held (${n})` : `the weather today, entry ${n}`;
      await store.insert(
        Array.from({ length: 2_400 }, (_, i) => ({
          memory: makeMemory(i + 1, { content: content(i) }),
          vector: vectorFor(i + 1),
        })),
        [],
      );
      const hits = await store.keywordSearch('alice', ['weather', 'glacier'], filter(), 10);
      expect(hits.slice(0, 3).map((hit) => hit.id)).toEqual(
        expect.arrayContaining([idAt(1_201), idAt(1_202), idAt(1_203)]),
      );
      expect(hits).toHaveLength(10);
      // The statistics are the user's own: "glacier" is in 3 of 2,400 memories, "weather" in all.
      expect(hits[0]?.coverage).toBeCloseTo(1, 6);
      expect(hits[3]?.coverage).toBeLessThan(0.05);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs in WAL mode with the schema at the latest version, and refuses a newer schema', async () => {
    const dir = await tempDir('engram-sqlite-');
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

  it('upgrades a database indexed by trigger (before version 7): old and new memories searchable, each indexed once', async () => {
    const dir = await tempDir('engram-sqlite-');
    const path = join(dir, 'engram.db');
    try {
      // Back to version 6 as it was: the trigger indexed each inserted memory.
      const store = await upgradedFrom(
        dir,
        ['the kayak is in the shed'],
        6,
        `${WITHOUT_USAGE} CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
          INSERT INTO memories_fts (rowid, owner, content) VALUES (new.rowid, new.owner, new.content);
        END;`,
      );
      await store.insert(
        [{ memory: makeMemory(2, { content: 'the kayak paddles hang above the door' }), vector: vectorFor(2) }],
        [],
      );
      const hits = await store.keywordSearch('alice', ['kayak'], filter(), 10);
      expect(hits.map((hit) => hit.id).sort()).toEqual([idAt(1), idAt(2)]);
      await store.close();
      const check = new Database(path);
      // FTS5 compares its index with the memories table: a memory indexed twice fails here.
      expect(() => check.exec(`INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')`)).not.toThrow();
      expect(
        check
          .prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name = 'memories_fts_insert'")
          .get(),
      ).toEqual({ n: 0 });
      check.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts a user’s usage at write time, from the memories already there when it upgrades (version 9)', async () => {
    const dir = await tempDir('engram-sqlite-');
    try {
      const store = await upgradedFrom(dir, ['one', 'twö', 'three'], 8, WITHOUT_USAGE);
      expect(await store.usage('alice')).toEqual({ memories: 3, bytes: 12 });
      await store.insert([{ memory: makeMemory(4, { content: 'four' }), vector: vectorFor(4) }], []);
      expect(await store.usage('alice')).toEqual({ memories: 4, bytes: 16 });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps each user’s word counts in step with their memories through adds, rewrites, deletes, forgets, purges and an upgrade (version 11)', async () => {
    const dir = await tempDir('engram-sqlite-');
    const path = join(dir, 'engram.db');
    /** The counts the store holds, and the counts its memories call for (words as keyword ranking stems them). */
    const heldAndDue = () => {
      const db = new Database(path, { readonly: true });
      try {
        const held = db.prepare('SELECT user_id, term, memories FROM user_terms ORDER BY user_id, term').all() as {
          user_id: string;
          term: string;
          memories: number;
        }[];
        const due = new Map<string, number>();
        for (const row of db.prepare('SELECT user_id, content FROM memories').all() as {
          user_id: string;
          content: string;
        }[]) {
          for (const term of termsOf(row.content)) {
            const key = JSON.stringify([row.user_id, term]);
            due.set(key, (due.get(key) ?? 0) + 1);
          }
        }
        const expected = [...due]
          .map(([key, memories]) => {
            const [user_id, term] = JSON.parse(key) as [string, string];
            return { user_id, term, memories };
          })
          .sort((a, b) => (`${a.user_id} ${a.term}` < `${b.user_id} ${b.term}` ? -1 : 1));
        return { held, due: expected };
      } finally {
        db.close();
      }
    };
    try {
      // Memories from before version 11 are counted when the store upgrades.
      const store = await upgradedFrom(
        dir,
        ['The garden gate squeaks when it rains', 'Rain again: gardening'],
        10,
        WITHOUT_TERMS,
      );
      let { held, due } = heldAndDue();
      expect(held).toEqual(due);
      expect(held).toContainEqual({ user_id: 'alice', term: 'rain', memories: 2 });
      const bob = makeMemory(3, { userId: 'bob', content: 'garden party in the rain' });
      await store.insert(
        [
          { memory: makeMemory(4, { content: 'Rainy days, rainy days' }), vector: vectorFor(4) },
          { memory: bob, vector: vectorFor(3) },
        ],
        [],
      );
      ({ held, due } = heldAndDue());
      expect(held).toEqual(due);
      expect(held).toContainEqual({ user_id: 'alice', term: 'raini', memories: 1 });

      const first = makeMemory(1, { content: 'The garden gate squeaks when it rains' });
      const rewritten = { ...first, content: 'The shed door squeaks', updatedAt: idAt(40) };
      await store.update(rewritten, null, historyEntry('update', first, rewritten));
      await store.delete('alice', idAt(2), historyEntry('delete', makeMemory(2), null));
      ({ held, due } = heldAndDue());
      expect(held).toEqual(due);
      expect(held.filter((row) => row.user_id === 'alice' && row.term === 'garden')).toEqual([]);

      await store.forget('alice', idAt(4));
      ({ held, due } = heldAndDue());
      expect(held).toEqual(due);
      await store.purgeUser('bob');
      ({ held, due } = heldAndDue());
      expect(held).toEqual(due);
      expect(held.some((row) => row.user_id === 'bob')).toBe(false);
      expect(held).toContainEqual({ user_id: 'alice', term: 'shed', memories: 1 });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('weighs a word by the user’s memories as they are now: deleting the memories that made a word common makes it rare', async () => {
    const dir = await tempDir('engram-sqlite-');
    const store = new SqliteStore({ path: join(dir, 'engram.db') });
    await store.init();
    try {
      // "kayak" is in 12 of alice's memories, "lantern" in one: the lantern memory leads.
      const kayaks = Array.from({ length: 12 }, (_, i) => makeMemory(i + 10, { content: `kayak trip number ${i}` }));
      const both = [
        makeMemory(1, { content: 'the kayak is blue' }),
        makeMemory(2, { content: 'the lantern is blue' }),
        makeMemory(3, { content: 'lantern oil, lantern wick' }),
      ];
      await store.insert(
        [...kayaks, ...both].map((memory, i) => ({ memory, vector: vectorFor(i + 1) })),
        [],
      );
      const top = async () => (await store.keywordSearch('alice', ['kayak', 'lantern'], filter(), 10))[0]?.id;
      expect(await top()).toBe(idAt(3));
      // Now "kayak" is in one memory and "lantern" in two: the kayak memory leads.
      for (const memory of kayaks) await store.delete('alice', memory.id, historyEntry('delete', memory, null));
      expect(await top()).toBe(idAt(1));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives every connection the configured page cache and the reader threads the memory mapping, and writes full-text pages of 16,000 bytes', async () => {
    // The cache and the pages keep a large user's ingest flat (bench:growth): with SQLite's 2 MiB
    // cache and FTS5's 4,000-byte pages, the commits of 0 → 1M memories into one user slowed 3.5×.
    // The mapping keeps a scan of a user larger than the cache from reading page by page; on the
    // connections that write, a file growing with every commit is remapped, which slowed ingest.
    const dir = await tempDir('engram-sqlite-');
    const db = new SqliteDb(sqliteConfigSchema.parse({ path: join(dir, 'engram.db'), cacheMb: 24, mmapMb: 100 }));
    const unmapped = new SqliteDb(sqliteConfigSchema.parse({ path: join(dir, 'other.db'), mmapMb: 0 }));
    db.open();
    unmapped.open();
    try {
      expect(db.conn.pragma('cache_size', { simple: true })).toBe(-24 * 1024);
      expect(await db.read('PRAGMA cache_size', [])).toEqual([{ cache_size: -24 * 1024 }]);
      expect(await db.read('PRAGMA mmap_size', [])).toEqual([{ mmap_size: 100 * 2 ** 20 }]);
      expect(db.conn.pragma('mmap_size', { simple: true })).toBe(0);
      expect(await unmapped.read('PRAGMA mmap_size', [])).toEqual([{ mmap_size: 0 }]);
      expect(db.conn.prepare("SELECT v FROM memories_fts_config WHERE k = 'pgsz'").get()).toEqual({ v: 16_000 });
      expect(unmapped.config).toMatchObject({ cacheMb: SQLITE_CACHE_MB, mmapMb: 0 });
      // By default, as much as SQLite's build allows (2 GiB less 64 KiB): asking for it is not capped lower.
      const defaults = new SqliteDb(sqliteConfigSchema.parse({ path: join(dir, 'third.db') }));
      defaults.open();
      expect(defaults.config.mmapMb).toBe(SQLITE_MMAP_MB);
      expect(await defaults.read('PRAGMA mmap_size', [])).toEqual([{ mmap_size: SQLITE_MMAP_MB * 2 ** 20 }]);
      await defaults.close();
    } finally {
      await db.close();
      await unmapped.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('looks a batch’s hashes up by index even before the database has planner statistics', async () => {
    // A database has no statistics until its first clean close: the plan must not depend on them,
    // or every batch add walks all of the user's rows and ingest slows as the user grows.
    const dir = await tempDir('engram-sqlite-');
    const path = join(dir, 'engram.db');
    const store = new SqliteStore({ path, readers: 0 });
    await store.init();
    const db = new Database(path, { readonly: true });
    try {
      await store.insert(
        Array.from({ length: 50 }, (_, i) => ({ memory: makeMemory(i + 1), vector: vectorFor(i + 1) })),
        [],
      );
      const stats = db.prepare("SELECT count(*) AS n FROM sqlite_stat1 WHERE tbl = 'memories'").get();
      expect(stats).toEqual({ n: 0 });
      const where = filterSql('alice', filter());
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${hashLookupSql(where.sql)}`)
        .all(...where.params, '[]')
        .map((row) => (row as { detail: string }).detail)
        .join('; ');
      expect(plan).toContain('USING INDEX memories_user_hash (user_id=? AND hash=?)');
      // And it still answers the oldest visible memory per hash.
      const copy = { ...makeMemory(60), hash: makeMemory(7).hash };
      await store.insert([{ memory: copy, vector: vectorFor(60) }], []);
      const found = await store.findByHashes('alice', [makeMemory(7).hash], filter());
      expect(found.get(makeMemory(7).hash)?.id).toBe(idAt(7));
    } finally {
      db.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('scans a large user on reader threads: the event loop stays idle, and a write is seen by the next search', async () => {
    const dir = await tempDir('engram-sqlite-');
    const path = join(dir, 'engram.db');
    const random = prng(5);
    const records = Array.from({ length: 20_000 }, (_, i) => ({
      memory: makeMemory(i + 1, { content: `note ${i} about the garden and the shed` }),
      vector: Float32Array.from(unitVector(random, DIMENSION)),
    }));
    const setUp = new SqliteStore({ path, readers: 0 });
    await setUp.init();
    for (let i = 0; i < records.length; i += 1_000) await setUp.insert(records.slice(i, i + 1_000), []);
    await setUp.close();
    const scans = (store: SqliteStore) =>
      Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          Promise.all([
            store.vectorSearch('alice', vectorFor(i + 1), filter(), 10),
            store.keywordSearch('alice', ['garden', 'shed'], filter(), 10),
          ]),
        ),
      );
    try {
      // Control: on the main thread the loop is busy for the whole run.
      const inline = new SqliteStore({ path, readers: 0 });
      await inline.init();
      const onMain = await watchEventLoop(() => scans(inline));
      await inline.close();

      const store = new SqliteStore({ path, readers: 2 });
      await store.init();
      await scans(store); // start the readers
      const offMain = await watchEventLoop(() => scans(store));
      console.info(
        `8 × (vector + keyword) over 20k: main thread ${onMain.ms.toFixed(0)} ms (loop utilisation ${onMain.utilization.toFixed(2)}), ` +
          `readers ${offMain.ms.toFixed(0)} ms (utilisation ${offMain.utilization.toFixed(2)})`,
      );
      expect(onMain.utilization).toBeGreaterThan(0.8);
      expect(offMain.utilization).toBeLessThan(0.5);
      // Same answers either way.
      expect(offMain.result.map(([v]) => v.map((hit) => hit.id))).toEqual(
        onMain.result.map(([v]) => v.map((hit) => hit.id)),
      );

      // Read-your-writes: a memory written on the main connection is found by the next scan.
      const fresh = makeMemory(30_000, { content: 'the pruning shears are in the blue box' });
      await store.insert([{ memory: fresh, vector: vectorFor(3) }], []);
      expect((await store.keywordSearch('alice', ['shears'], filter(), 5)).map((hit) => hit.id)).toEqual([fresh.id]);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('inserts on a writer thread: the event loop stays idle, errors keep their class, the next read sees the write', async () => {
    const dir = await tempDir('engram-sqlite-');
    const path = join(dir, 'engram.db');
    const random = prng(6);
    const batch = (from: number) =>
      Array.from({ length: 2_000 }, (_, i) => ({
        memory: makeMemory(from + i, { content: `section ${from + i} of a long note about the garden` }),
        vector: Float32Array.from(unitVector(random, DIMENSION)),
      }));
    const inserts = async (store: SqliteStore, from: number) => {
      for (let i = 0; i < 4; i++) await store.insert(batch(from + i * 2_000), []);
    };
    try {
      // Control: on the main connection the loop is busy for the whole insert.
      const inline = new SqliteStore({ path, writer: false });
      await inline.init();
      const onMain = await watchEventLoop(() => inserts(inline, 1));
      await inline.close();

      const store = new SqliteStore({ path });
      await store.init();
      await store.insert(batch(100_000).slice(0, 1), []); // start the writer
      const offMain = await watchEventLoop(() => inserts(store, 10_001));
      console.info(
        `4 × 2,000 inserts: main thread ${onMain.ms.toFixed(0)} ms (loop utilisation ${onMain.utilization.toFixed(2)}), ` +
          `writer ${offMain.ms.toFixed(0)} ms (utilisation ${offMain.utilization.toFixed(2)})`,
      );
      expect(onMain.utilization).toBeGreaterThan(0.8);
      expect(offMain.utilization).toBeLessThan(0.5);
      expect((await store.usage('alice')).memories).toBe(16_001);

      // Read-your-writes on the main connection, and errors that keep their class and details.
      const fresh = makeMemory(50_000, { content: 'the pruning shears are in the blue box' });
      await store.insert([{ memory: fresh, vector: vectorFor(3) }], []);
      expect((await store.get('alice', fresh.id))?.content).toBe(fresh.content);
      const again = { ...makeMemory(50_001, { content: fresh.content }), hash: fresh.hash };
      await expect(
        store.insert([{ memory: again, vector: vectorFor(3) }], [], [], { uniqueAt: new Date().toISOString() }),
      ).rejects.toMatchObject({ code: 'conflict', details: { duplicateHashes: [fresh.hash] } });
      const missing = makeMemory(60_000, { content: 'never stored' });
      await expect(store.insert([], [], [missing])).rejects.toMatchObject({ code: 'not_found' });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
