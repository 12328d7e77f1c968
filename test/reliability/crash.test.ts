import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type CrashBench, type CrashStore, openCrashBench } from './crash-harness.js';

/**
 * SIGKILL at random moments during concurrent adds, updates and deletes, a few trials per store
 * (`npm run crash` runs 100 per store; docs/reliability.md has the figures). Every trial restarts
 * the server on what the previous kill left behind.
 */
const TRIALS = 4;
const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
const stores: CrashStore[] = ['sqlite', 'json', ...(postgresUrl ? (['postgres'] as const) : [])];

describe.each(stores)('crash safety under SIGKILL (%s store)', (store) => {
  let bench: CrashBench;
  afterAll(() => bench?.close());

  it(`keeps every acknowledged add, update and delete over ${TRIALS} kills, nothing half-applied`, async () => {
    bench = await openCrashBench(store, { seed: 20261203, ...(postgresUrl && { postgresUrl }) });
    const acknowledged = { add: 0, update: 0, delete: 0 };
    let indexed = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const result = await bench.trial();
      expect(result.problems, `trial ${trial}`).toEqual([]);
      indexed += result.indexes;
      for (const kind of ['add', 'update', 'delete'] as const) acknowledged[kind] += result.acknowledged[kind];
    }
    // The trials did real work: every kind of write was acknowledged before kills (how many depends
    // on how busy the machine is; `npm run crash` reports the counts of its 100 trials).
    const fewest = Math.min(acknowledged.add, acknowledged.update, acknowledged.delete);
    expect(fewest, `acknowledged: ${JSON.stringify(acknowledged)}`).toBeGreaterThan(0);
    // On sqlite the checks searched through approximate indexes the killed servers had (from the
    // second trial on, at the latest: each check leaves its indexes built for the next server).
    if (store === 'sqlite') expect(indexed).toBeGreaterThan(0);
  }, 180_000);
});

describe('the crash check itself', () => {
  it('reports an acknowledged write that the store lost', async () => {
    // Drop a memory the server acknowledged, behind its back, as a lost write would. The kill comes
    // late enough for writes to be acknowledged even on a busy machine; the check below says so if not.
    let dropped: { user: string; id: string } | undefined;
    const bench = await openCrashBench('sqlite', {
      seed: 7,
      minKillMs: 1_500,
      maxKillMs: 1_600,
      afterKill: ({ dataDir, live }) => {
        dropped = live[0];
        if (!dropped) return;
        const db = new Database(join(dataDir, 'engram.db'));
        db.prepare('DELETE FROM memories WHERE id = ?').run(dropped.id);
        db.close();
      },
    });
    try {
      const result = await bench.trial();
      expect(dropped, 'no memory was acknowledged before the kill').toBeDefined();
      const lost = `${dropped?.user}/${dropped?.id}: expected`;
      expect(result.problems.filter((problem) => problem.startsWith(lost))).toEqual([
        expect.stringMatching(/expected "user\d memory \d+.*", found null$/),
      ]);
    } finally {
      await bench.close();
    }
  }, 60_000);
});
