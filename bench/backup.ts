/**
 * Backup and restore of the SQLite store (`npm run bench:backup`): a store of 10k and 100k
 * memories (100 users, vectors supplied, 512-d), then `snapshotSqlite` (VACUUM INTO + the
 * integrity check), `checkSqliteFile` alone, and `restoreSqlite` (check, copy, check, rename).
 * Scheduled backups run the snapshot on the server's thread, so its time is also the pause it
 * causes there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSqliteFile, restoreSqlite, snapshotSqlite } from '../src/backup/index.js';
import { testConfig } from '../src/config.js';
import type { AddMemoryInput } from '../src/core/schemas.js';
import { openService } from '../src/runtime.js';
import { ACTOR, DIM, SCALE } from './context.js';
import { memoryTexts, prng, unitVector } from './gen.js';
import { markdownTable, mb, progressBar } from './report.js';

const SIZES = [10_000, 100_000].map((n) => Math.round(n * SCALE));
const USERS = 100;
const BATCH = 500;

async function measure(size: number): Promise<(string | number)[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-bench-backup-'));
  try {
    const service = await openService(testConfig({ dataDir, logLevel: 'silent' }));
    const texts = memoryTexts(size, 901);
    const rand = prng(902);
    const bar = progressBar(`load ${size}`, size);
    for (let start = 0; start < size; start += BATCH) {
      const inputs: AddMemoryInput[] = texts
        .slice(start, start + BATCH)
        .map((content) => ({ content, embedding: unitVector(rand, DIM), infer: false }));
      await service.addMany(`user-${(start / BATCH) % USERS}`, inputs, ACTOR);
      bar.increment(inputs.length);
    }
    bar.stop();
    await service.close();
    const source = join(dataDir, 'engram.db');
    const backup = snapshotSqlite(source, join(dataDir, 'backup.db'));
    let t = performance.now();
    const check = checkSqliteFile(backup.path);
    const checkMs = performance.now() - t;
    t = performance.now();
    const restored = restoreSqlite(backup.path, join(dataDir, 'restored', 'engram.db'));
    const restoreMs = performance.now() - t;
    if (!check.ok || restored.memories !== size) throw new Error(`backup of ${size} is wrong: ${check.problems}`);
    return [size, mb(backup.bytes), backup.ms, checkMs, restoreMs];
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const rows = [];
for (const size of SIZES) rows.push(await measure(size));
process.stdout.write(
  `\n${markdownTable(['memories', 'backup MB', 'backup ms (snapshot + check)', 'check ms', 'restore ms'], rows, 0)}\n`,
);
