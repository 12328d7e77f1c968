/**
 * `npm run bench`: Engram performance on this machine. Markdown report on stdout, progress on stderr.
 *
 *   a. ingest with the default embedder (USE): batches of 100 through addMany, single adds (ingest.ts)
 *   b. ingest with supplied vectors (512-d random unit vectors): sqlite, and json (small N)
 *      (ingest.ts; the sqlite loads are part of the search scenarios)
 *   c. search latency p50/p95/p99 per mode at 10k and 100k memories (100 users) and 100k in one user,
 *      query embedding (timings.embedMs) reported apart from end-to-end (timings.totalMs) (search-latency.ts)
 *   d. RSS after each phase
 *   e. /health latency of a real server during a large HTTP import (target p99 < 50 ms) (http-import.ts)
 *
 * BENCH_SCALE (default 1) scales every size, e.g. BENCH_SCALE=0.1 for a quick run. Settings from
 * the environment (ENGRAM_EMBED_THREADS, ENGRAM_SQLITE_SYNCHRONOUS, ENGRAM_SEARCH_*) apply.
 * Run with --expose-gc so RSS is read after a full collection.
 */
import { tmpdir } from 'node:os';
import { createEmbedder } from '../src/embed/registry.js';
import { BENCH_STORES, Bench, configFor, SCALE, SIZES } from './context.js';
import { hnswRealEmbeddings, recallSection } from './hnsw.js';
import { type HttpResult, httpImport, httpSection } from './http-import.js';
import { ingestJson, ingestSection, ingestWithEmbedder } from './ingest.js';
import { fmt, log, machineTable, markdownTable } from './report.js';
import { searchSection, supplied100Users, suppliedOneUser } from './search-latency.js';

async function main(): Promise<void> {
  const began = performance.now();
  const bench = new Bench();
  const base = configFor(tmpdir());
  log(`Engram bench, BENCH_SCALE=${SCALE}: ${JSON.stringify(SIZES)}`);
  bench.recordRss('start');

  const embedder = createEmbedder('use', base.embed, { cacheSize: 0 });
  log('loading the USE embedder …');
  await embedder.init();
  bench.recordRss('embedder loaded');

  let http: HttpResult | null = null;
  try {
    await ingestWithEmbedder(bench, embedder);
    await ingestJson(bench, embedder);
    for (const store of BENCH_STORES) {
      await supplied100Users(bench, embedder, store);
      await suppliedOneUser(bench, embedder, store);
    }
    if (BENCH_STORES.includes('postgres')) await hnswRealEmbeddings(bench, embedder);
    await embedder.close(); // the server in e. loads its own
    http = await httpImport(bench);
  } finally {
    await embedder.close();
    await bench.removeTempDirs();
  }
  if (!globalThis.gc) bench.notes.push('run with --expose-gc (as `npm run bench` does) for RSS after a full GC.');
  const minutes = (performance.now() - began) / 60_000;

  const settings = markdownTable(
    ['settings', ''],
    [
      ['embedder', `${embedder.model} (${base.embed.backend}, threads ${base.embed.threads ?? 'default'}), cache off`],
      ['sqlite', `synchronous=${base.sqlite.synchronous}, WAL`],
      ['scenarios b/c stores', BENCH_STORES.join(', ')],
      [
        'search',
        `limit 10, candidates ${base.search.candidates}, RRF k=${base.search.rrfK}, weights keyword ${base.search.keywordWeight} / vector ${base.search.vectorWeight}`,
      ],
      [
        'sizes',
        Object.entries(SIZES)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', '),
      ],
      ['total time', `${minutes.toFixed(1)} min`],
    ],
  );
  const memory = markdownTable(
    ['phase', 'RSS MB', 'heap used MB', 'external+buffers MB'],
    bench.rssRows.map((r) => r.map((c) => (typeof c === 'number' ? c.toFixed(0) : c))),
  );
  const out = [
    `# Engram benchmark (BENCH_SCALE=${SCALE})`,
    '',
    machineTable(),
    '',
    settings,
    '',
    ...ingestSection(bench.ingestRows),
    ...searchSection(bench.searchRows),
    ...recallSection(bench.recallRows),
    '## Memory (after each phase)',
    '',
    memory,
    '',
    ...(http ? httpSection(http) : []),
    ...bench.notes.flatMap((note) => [`_${note}_`, '']),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
