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
    let acknowledged = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const result = await bench.trial();
      expect(result.problems, `trial ${trial}`).toEqual([]);
      acknowledged += result.acknowledged.add + result.acknowledged.update + result.acknowledged.delete;
    }
    // The trials did real work: every kind of write was acknowledged before kills.
    expect(acknowledged).toBeGreaterThan(TRIALS * 20);
  }, 180_000);
});

describe('the crash check itself', () => {
  it('reports an acknowledged write that the store lost', async () => {
    // Drop the newest memory behind the server's back, as a lost write would.
    const bench = await openCrashBench('sqlite', {
      seed: 7,
      minKillMs: 600,
      maxKillMs: 700,
      afterKill: ({ dataDir }) => {
        const db = new Database(join(dataDir, 'engram.db'));
        db.prepare('DELETE FROM memories WHERE rowid = (SELECT min(rowid) FROM memories)').run();
        db.close();
      },
    });
    try {
      const result = await bench.trial();
      expect(result.problems.some((problem) => /expected "user\d memory \d+.*", found null/.test(problem))).toBe(true);
    } finally {
      await bench.close();
    }
  }, 60_000);
});
