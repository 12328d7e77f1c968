/**
 * Erasure and compaction of the SQLite store (`npm run bench:compact`): a store of 10k and 100k
 * memories (100 users, vectors supplied, 512-d), then every tenth memory forgotten
 * (`MemoryService.forget`), then `store.compact()` (keyword-index merge, VACUUM, WAL truncate) —
 * what `engram compact` runs. Reports the file size before and after and how often the forgotten
 * memories' marker word is still in the file's bytes before and after compacting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig } from '../src/config.js';
import type { AddMemoryInput } from '../src/core/schemas.js';
import { openService } from '../src/runtime.js';
import { SqliteStore } from '../src/stores/sqlite/index.js';
import { ACTOR, DIM, SCALE } from './context.js';
import { memoryTexts, prng, unitVector } from './gen.js';
import { markdownTable, mb, progressBar } from './report.js';

const SIZES = [10_000, 100_000].map((n) => Math.round(n * SCALE));
const USERS = 100;
const BATCH = 500;
/** A word no generated text contains: the forgotten memories carry it. */
const MARKER = 'zorblefact';

function markers(file: string): number {
  const marker = Buffer.from(MARKER, 'latin1');
  let found = 0;
  for (const path of [file, `${file}-wal`]) {
    if (!existsSync(path)) continue;
    const bytes = readFileSync(path);
    for (let at = bytes.indexOf(marker); at !== -1; at = bytes.indexOf(marker, at + marker.length)) found++;
  }
  return found;
}

async function measure(size: number): Promise<(string | number)[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-bench-compact-'));
  try {
    const service = await openService(testConfig({ dataDir, logLevel: 'silent' }));
    const texts = memoryTexts(size, 911);
    const rand = prng(912);
    const forget: { userId: string; id: string }[] = [];
    const bar = progressBar(`load ${size}`, size);
    for (let start = 0; start < size; start += BATCH) {
      const userId = `user-${(start / BATCH) % USERS}`;
      const inputs: AddMemoryInput[] = texts.slice(start, start + BATCH).map((content, i) => ({
        content: (start + i) % 10 === 0 ? `${content} ${MARKER} ${start + i}` : content,
        embedding: unitVector(rand, DIM),
        infer: false,
      }));
      const results = await service.addMany(userId, inputs, ACTOR);
      for (const [i, result] of results.entries())
        if ((start + i) % 10 === 0) forget.push({ userId, id: result.memory.id });
      bar.increment(inputs.length);
    }
    bar.stop();
    let t = performance.now();
    for (const { userId, id } of forget) await service.forget(userId, id);
    const forgetMs = (performance.now() - t) / forget.length;
    await service.close();
    const file = join(dataDir, 'engram.db');
    const store = new SqliteStore({ path: file });
    await store.init();
    const before = { bytes: (await store.stats()).bytes ?? 0, markers: markers(file) };
    t = performance.now();
    await store.compact();
    const compactMs = performance.now() - t;
    const after = { bytes: (await store.stats()).bytes ?? 0, markers: markers(file) };
    const left = (await store.stats()).memories;
    await store.close();
    if (left !== size - forget.length) throw new Error(`compact of ${size} lost memories: ${left} left`);
    return [
      size,
      forget.length,
      forgetMs.toFixed(2),
      mb(before.bytes),
      before.markers,
      compactMs,
      mb(after.bytes),
      after.markers,
    ];
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const rows = [];
for (const size of SIZES) rows.push(await measure(size));
process.stdout.write(
  `\n${markdownTable(
    [
      'memories',
      'forgotten',
      'forget ms each',
      'MB before',
      'marker hits before',
      'compact ms',
      'MB after',
      'marker hits after',
    ],
    rows,
    0,
  )}\n`,
);
