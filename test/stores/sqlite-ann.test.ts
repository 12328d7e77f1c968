import { readdirSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { prng, unitVector } from '../../bench/gen.js';
import type { Memory } from '../../src/core/types.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { filter, historyEntry, makeMemory } from './conformance.js';

/**
 * The SQLite store's approximate vector index (src/stores/sqlite/ann/): searched through it, a large
 * user gets what the exact scan gives, except at worst a near neighbour in recall — never a deleted
 * or foreign memory, never a miss of what was written since the build, and a damaged index file
 * costs speed only.
 */
const DIMENSION = 16;
const COUNT = 400;
const random = prng(20261207);
const vectors = Array.from({ length: COUNT + 100 }, () => Float32Array.from(unitVector(random, DIMENSION)));
const vectorOf = (n: number): Float32Array => vectors[n - 1] as Float32Array;

const open: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});

/** alice's COUNT memories in a new store; `ann` is the index threshold of the store returned. */
async function filled(
  ann = 100,
): Promise<{ store: SqliteStore; exact: SqliteStore; path: string; memories: Memory[] }> {
  const dir = await tempDir('engram-ann-');
  const path = join(dir, 'engram.db');
  const store = new SqliteStore({ path, annMinMemories: ann });
  const exact = new SqliteStore({ path, annMinMemories: 0 });
  open.push(store, exact);
  await store.init();
  await exact.init();
  const memories = Array.from({ length: COUNT }, (_, i) => makeMemory(i + 1, { content: `fact ${i + 1}` }));
  await store.insert(
    memories.map((memory, i) => ({ memory, vector: vectorOf(i + 1) })),
    [],
  );
  // bob's memories share the vectors: an index must never hand them to alice.
  await store.insert(
    Array.from({ length: 50 }, (_, i) => ({
      memory: makeMemory(COUNT + 1 + i, { userId: 'bob', content: `bob ${i}` }),
      vector: vectorOf(i + 1),
    })),
    [],
  );
  return { store, exact, path, memories };
}

const ids = (hits: { id: string }[]): string[] => hits.map((hit) => hit.id);

describe('the SQLite approximate vector index', () => {
  it('ranks by exact distance where the index’s 16-bit copies of the vectors get the order wrong', async () => {
    // Towards the query (the first axis), b is nearer than a: 0.5003 / 1.0003 < 0.5002 / 1. As 16-bit
    // floats (steps of 2^-10 near 1 and 2^-11 near 0.5), a is [1, 0.5] and b [1, 0.50049]: the index
    // finds a nearer. Twenty far memories make the index worth searching.
    const dir = await tempDir('engram-ann-');
    const store = new SqliteStore({ path: join(dir, 'engram.db'), annMinMemories: 1 });
    open.push(store);
    await store.init();
    const vector = (...values: number[]) => {
      const v = new Float32Array(DIMENSION);
      v.set(values);
      return v;
    };
    const far = Array.from({ length: 20 }, (_, i) => ({
      memory: makeMemory(i + 3, { content: `far ${i}` }),
      vector: vector(0, 1, i / 20),
    }));
    await store.insert(
      [
        { memory: makeMemory(1, { content: 'a' }), vector: vector(1, 0.5002) },
        { memory: makeMemory(2, { content: 'b' }), vector: vector(1.0003, 0.5003) },
        ...far,
      ],
      [],
    );
    await store.ann.build('alice');
    expect(store.ann.state('alice')?.vectors).toBe(22);
    const hits = await store.vectorSearch('alice', vector(1), filter(), 1);
    expect(ids(hits)).toEqual([makeMemory(2).id]);
  });

  it('answers a large user from the index as the exact scan does, and only with their own memories', async () => {
    const { store, exact, memories } = await filled();
    await store.vectorSearch('alice', vectorOf(1), filter(), 10); // past the threshold: starts a build
    await store.ann.idle();
    const state = store.ann.state('alice');
    expect(state?.file).toMatch(/\.usearch$/);
    expect(state?.vectors).toBe(COUNT);
    const aliceIds = new Set(ids(memories));
    let same = 0;
    for (let q = 0; q < 40; q++) {
      const query = Float32Array.from(unitVector(random, DIMENSION));
      const approximate = await store.vectorSearch('alice', query, filter(), 10);
      const truth = await exact.vectorSearch('alice', query, filter(), 10);
      expect(approximate.every((hit) => aliceIds.has(hit.id))).toBe(true);
      if (ids(approximate).join() === ids(truth).join()) same++;
      for (const hit of approximate) {
        const exactHit = truth.find((t) => t.id === hit.id);
        if (exactHit) expect(hit.similarity).toBeCloseTo(exactHit.similarity, 5); // exact distances, not the index's
      }
    }
    // On 400 vectors the graph finds the true neighbours nearly always (recall at scale: BENCHMARKS.md).
    expect(same).toBeGreaterThanOrEqual(36);
    // bob is below the threshold: no index is started for him.
    await store.vectorSearch('bob', vectorOf(1), filter(), 10);
    await store.ann.idle();
    expect(store.ann.state('bob')).toBeNull();
  });

  it('answers the same from an index loaded into memory (annMemory load) as from the mapped file', async () => {
    const { store, path } = await filled();
    await store.ann.build('alice');
    const loaded = new SqliteStore({ path, annMinMemories: 100, annMemory: 'load' });
    open.push(loaded);
    await loaded.init();
    for (let q = 0; q < 20; q++) {
      const query = Float32Array.from(unitVector(random, DIMENSION));
      expect(await loaded.vectorSearch('alice', query, filter(), 10)).toEqual(
        await store.vectorSearch('alice', query, filter(), 10),
      );
    }
    // A new build replaces the loaded copy: what was added since is found either way.
    const added = makeMemory(COUNT + 80, { content: 'added since' });
    await store.insert([{ memory: added, vector: vectorOf(COUNT + 80) }], []);
    await store.ann.build('alice');
    expect(ids(await loaded.vectorSearch('alice', vectorOf(COUNT + 80), filter(), 1))).toEqual([added.id]);
  });

  it('finds what was added and rewritten since the build, and never what was deleted', async () => {
    const { store, memories } = await filled();
    await store.ann.build('alice');
    const built = store.ann.state('alice');
    // Added after the build: past the watermark, scanned exactly.
    const added = makeMemory(COUNT + 60, { content: 'added since' });
    await store.insert([{ memory: added, vector: vectorOf(COUNT + 60) }], []);
    expect(ids(await store.vectorSearch('alice', vectorOf(COUNT + 60), filter(), 1))).toEqual([added.id]);
    // Rewritten: the index holds its old vector; ann_changes sends it to the exact re-ranking.
    const moved = memories[10] as Memory;
    await store.update(moved, vectorOf(COUNT + 70), historyEntry('update', moved, moved));
    expect(ids(await store.vectorSearch('alice', vectorOf(COUNT + 70), filter(), 1))).toEqual([moved.id]);
    // Deleted: still in the index's graph, never in a result.
    const gone = memories[20] as Memory;
    await store.delete('alice', gone.id, historyEntry('delete', gone, null));
    const afterDelete = await store.vectorSearch('alice', vectorOf(21), filter(), 10);
    expect(ids(afterDelete)).not.toContain(gone.id);
    expect(afterDelete).toHaveLength(10);
    // All of that was answered beside the same index (fewer than the rows that start a new build).
    expect(store.ann.state('alice')?.file).toBe(built?.file);
    // The next build takes them in and clears the changes it read.
    await store.ann.build('alice');
    const rebuilt = store.ann.state('alice');
    expect(rebuilt?.file).not.toBe(built?.file);
    expect(rebuilt?.watermark).toBeGreaterThan(built?.watermark ?? 0);
    expect(ids(await store.vectorSearch('alice', vectorOf(COUNT + 70), filter(), 1))).toEqual([moved.id]);
  });

  it('answers exactly while most of the index is stale (every vector rewritten, as a re-embedding does)', async () => {
    const { store, exact, memories } = await filled();
    await store.ann.build('alice');
    const built = store.ann.state('alice');
    // 26 rewrites of all 400 vectors: more changes than a search scores beside the index (10,000).
    const shifted = (round: number, i: number) => vectorOf(((i + round) % COUNT) + 1);
    for (let round = 1; round <= 26; round++) {
      await store.setVectors(
        memories.map((memory, i) => ({ userId: 'alice', id: memory.id, vector: shifted(round, i) })),
      );
    }
    for (const q of [1, 50, 300]) {
      const hits = await store.vectorSearch('alice', vectorOf(q), filter(), 5);
      expect(ids(hits)).toEqual(ids(await exact.vectorSearch('alice', vectorOf(q), filter(), 5)));
      expect(hits[0]?.id).toBe(memories[(q - 1 - 26 + COUNT) % COUNT]?.id);
    }
    // The searches found a build due: the stale index is replaced.
    await store.ann.idle();
    expect(store.ann.state('alice')?.file).not.toBe(built?.file);
    expect(ids(await store.vectorSearch('alice', vectorOf(7), filter(), 5))).toEqual(
      ids(await exact.vectorSearch('alice', vectorOf(7), filter(), 5)),
    );
  });

  it('keeps filters exact: a filter the index candidates cannot fill falls back to the scan', async () => {
    const { store, exact } = await filled();
    const tagged = makeMemory(COUNT + 80, { content: 'the only tagged one', tags: ['rare'] });
    await store.insert([{ memory: tagged, vector: vectorOf(COUNT + 80) }], []);
    await store.ann.build('alice');
    const query = vectorOf(3); // far from the tagged memory: not among the index's candidates
    const rare = await store.vectorSearch('alice', query, filter({ tagsAny: ['rare'] }), 10);
    expect(ids(rare)).toEqual([tagged.id]);
    expect(rare).toEqual(await exact.vectorSearch('alice', query, filter({ tagsAny: ['rare'] }), 10));
  });

  it('a damaged or missing index file costs speed, never results, and is built again', async () => {
    const { store, exact, path } = await filled();
    await store.ann.build('alice');
    const first = store.ann.state('alice')?.file as string;
    truncateSync(join(`${path}.ann`, first), 100);
    const query = vectorOf(5);
    expect(await store.vectorSearch('alice', query, filter(), 10)).toEqual(
      await exact.vectorSearch('alice', query, filter(), 10),
    );
    await store.ann.idle();
    const second = store.ann.state('alice')?.file as string;
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);
    // A fresh store (nothing mapped yet) whose index file has gone.
    await store.close();
    const { rmSync } = await import('node:fs');
    rmSync(join(`${path}.ann`, second));
    const reopened = new SqliteStore({ path, annMinMemories: 100 });
    open.push(reopened);
    await reopened.init();
    expect(await reopened.vectorSearch('alice', query, filter(), 10)).toEqual(
      await exact.vectorSearch('alice', query, filter(), 10),
    );
    await reopened.ann.idle();
    expect(reopened.ann.state('alice')?.file).toMatch(/\.usearch$/);
  });

  it('a build that cannot read the index it would extend builds it anew and replaces it', async () => {
    const { store, exact, path } = await filled();
    await store.ann.build('alice');
    const first = store.ann.state('alice')?.file as string;
    truncateSync(join(`${path}.ann`, first), 100);
    const result = await store.ann.build('alice');
    expect(result && 'file' in result ? result.vectors : null).toBe(COUNT);
    expect(store.ann.state('alice')?.file).not.toBe(first);
    const query = vectorOf(7);
    expect(ids(await store.vectorSearch('alice', query, filter(), 5))).toEqual(
      ids(await exact.vectorSearch('alice', query, filter(), 5)),
    );
  });

  it('purging a user drops their index; files nothing refers to (a kill mid-build) are swept', async () => {
    const { store, path } = await filled();
    await store.ann.build('alice');
    const orphan = join(`${path}.ann`, 'left-by-a-kill.usearch.tmp');
    writeFileSync(orphan, 'half a build');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(orphan, old, old);
    await store.purgeUser('alice');
    expect(store.ann.state('alice')).toBeNull();
    expect(await store.vectorSearch('alice', vectorOf(1), filter(), 10)).toEqual([]);
    // The first build of a process sweeps: bob gets an index, the orphan goes.
    const reopened = new SqliteStore({ path, annMinMemories: 1 });
    await store.close();
    open.push(reopened);
    await reopened.init();
    await reopened.ann.build('bob');
    expect(readdirSync(`${path}.ann`)).not.toContain('left-by-a-kill.usearch.tmp');
    const file = reopened.ann.state('bob')?.file as string;
    expect(statSync(join(`${path}.ann`, file)).mode & 0o777).toBe(0o600);
  });

  it('never reuses a rowid, so rows written after a build are always past its watermark', async () => {
    const { store, path, memories } = await filled();
    const last = memories.at(-1) as Memory;
    const db = new Database(path, { readonly: true });
    try {
      const rowidOf = (id: string) =>
        (db.prepare('SELECT rowid FROM memories WHERE id = ?').get(id) as { rowid: number }).rowid;
      const lastRowid = Math.max(rowidOf(last.id), rowidOf(makeMemory(COUNT + 50, { userId: 'bob' }).id));
      await store.delete('bob', makeMemory(COUNT + 50, { userId: 'bob' }).id, historyEntry('delete', last, null));
      const next = makeMemory(COUNT + 90, { content: 'after a delete at the top' });
      await store.insert([{ memory: next, vector: vectorOf(COUNT + 90) }], []);
      expect(rowidOf(next.id)).toBe(lastRowid + 1);
    } finally {
      db.close();
    }
  });
});
