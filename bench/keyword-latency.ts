/**
 * `npm run bench:keyword`: keyword and hybrid search latency (MemoryService timings.totalMs) on
 * SQLite at 10,000 memories over 100 users and at 20,000 memories in one user (vectors supplied),
 * 400 new queries each (the first 50 are warm-up). Keyword ranking computes BM25 over the user's
 * own memories (stores/sqlite/sqlite-keyword.ts); this is what that costs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { openService } from '../src/runtime.js';
import { memoryTexts, prng, queryTexts, unitVector } from './gen.js';
import { log, machineTable, markdownTable } from './report.js';
import { summarize } from './stats.js';

const dataDir = await mkdtemp(join(tmpdir(), 'engram-keyword-latency-'));
const config = loadConfig({
  overrides: { dataDir, store: 'sqlite', logLevel: 'silent', sqlite: { path: join(dataDir, 'engram.db') } },
});
const service = await openService(config);
const actor = { name: 'bench', source: 'import' } as const;
try {
  const texts = memoryTexts(30_000, 3);
  const random = prng(4);
  const load = async (userId: string, batch: string[]) =>
    service.addMany(
      userId,
      batch.map((content) => ({ content, embedding: Array.from(unitVector(random, 512)), infer: false })),
      actor,
    );
  log('loading 10,000 memories over 100 users and 20,000 in one user …');
  for (let u = 0; u < 100; u++) await load(`user-${u}`, texts.slice(u * 100, u * 100 + 100));
  for (let i = 0; i < 20_000; i += 500) await load('large', texts.slice(10_000 + i, 10_500 + i));

  const queries = queryTexts(400, 5);
  const rows: (string | number)[][] = [];
  const scenarios = [
    ['10,000 memories, 100 users', (i: number) => `user-${i % 100}`],
    ['20,000 memories in one user', () => 'large'],
  ] as const;
  for (const [label, user] of scenarios) {
    for (const mode of ['keyword', 'hybrid'] as const) {
      const totals: number[] = [];
      for (const [i, query] of queries.entries())
        totals.push((await service.search(user(i), { query, mode, limit: 10 })).timings.totalMs);
      const summary = summarize(totals.slice(50));
      rows.push([label, mode, summary.p50.toFixed(2), summary.p95.toFixed(2), summary.p99.toFixed(2)]);
    }
  }
  process.stdout.write(
    `# Keyword search latency (\`npm run bench:keyword\`)\n\n${machineTable()}\n\n${markdownTable(['store', 'mode', 'p50 ms', 'p95 ms', 'p99 ms'], rows)}\n`,
  );
} finally {
  await service.close();
  await rm(dataDir, { recursive: true, force: true });
}
