/**
 * `npm run bench:hnsw`: PostgreSQL HNSW recall and latency against exact search, per `ef_search`
 * (ENGRAM_POSTGRES_EF_SEARCH), on real USE embeddings: N generated memories (default 100,000) in
 * one user, loaded without the index and indexed once (as `migrate-store` does), then 300 USE
 * query embeddings through `vectorSearch` (limit 10) on a store per `ef_search` and on one with
 * HNSW off (the exact reference). Needs ENGRAM_POSTGRES_URL or ENGRAM_TEST_POSTGRES_URL.
 *
 *   npm run bench:hnsw [-- --memories 100000]
 *
 * Three recalls per row (bench/hnsw.ts `recallAt`). Strict: the share of the exact top 10 (by id)
 * the index returned. Tie-aware: a returned memory also counts when it is as similar to the query
 * as the exact 10th (within 1e-6). ε-recall: also when its cosine distance is within 1% of the
 * exact 10th's — generated texts are many near-duplicates, and a memory a hair farther than the
 * exact 10th is hardly a miss.
 */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import type { VectorHit } from '../src/core/types.js';
import { createEmbedder } from '../src/embed/registry.js';
import {
  ACTOR,
  BATCH,
  Bench,
  configFor,
  dropPhase,
  openExactPostgres,
  openPhase,
  openPostgresStore,
} from './context.js';
import { memoryTexts, queryTexts } from './gen.js';
import { recallAt } from './hnsw.js';
import { log, machineTable, markdownTable, progressBar } from './report.js';
import { summarize } from './stats.js';

const EF_SEARCH = [10, 20, 40, 64, 100, 200, 400] as const;
const QUERIES = 300;
const WARM_UP = 20;

const { values } = parseArgs({ options: { memories: { type: 'string' } }, strict: false });
const memories = Number(values.memories ?? 100_000);
if (!Number.isInteger(memories) || memories < BATCH) throw new Error(`--memories must be an integer ≥ ${BATCH}`);

const bench = new Bench();
const embedder = createEmbedder('use', configFor(tmpdir()).embed);
log('loading the USE embedder …');
await embedder.init();
const dataDir = await bench.tempDir('hnsw-sweep');
const rows: (string | number)[][] = [];
const service = await openPhase('postgres', dataDir, embedder);
try {
  const rebuild = await service.store.deferIndexes?.();
  const texts = memoryTexts(memories, 909);
  const bar = progressBar(`USE → postgres (no index), ${memories} memories in one user`, memories);
  for (let i = 0; i < texts.length; i += BATCH) {
    const batch = texts.slice(i, i + BATCH).map((content) => ({ content, infer: false }));
    await service.addMany('solo', batch, ACTOR);
    bar.increment(batch.length);
  }
  bar.stop();
  log('building the HNSW index …');
  const began = performance.now();
  await rebuild?.();
  const buildSeconds = (performance.now() - began) / 1000;

  const queries = await embedder.embed(queryTexts(QUERIES + WARM_UP, 910));
  const filter = { now: new Date().toISOString() };
  const exact = await openExactPostgres(dataDir);
  const truth: VectorHit[][] = [];
  const exactMs: number[] = [];
  const exactBar = progressBar('exact top 10', queries.length);
  for (const [i, vector] of queries.entries()) {
    const t = performance.now();
    truth.push(await exact.vectorSearch('solo', vector, filter, 10));
    if (i >= WARM_UP) exactMs.push(performance.now() - t);
    exactBar.increment();
  }
  exactBar.stop();
  await exact.close();
  const exactSummary = summarize(exactMs);
  rows.push([
    'exact (HNSW off)',
    '1.000',
    '1.000',
    '1.000',
    '1.0',
    exactSummary.p50.toFixed(2),
    exactSummary.p95.toFixed(2),
  ]);

  for (const ef of EF_SEARCH) {
    const store = await openPostgresStore(dataDir, { efSearch: ef });
    try {
      const strict: number[] = [];
      const tieAware: number[] = [];
      const epsilon: number[] = [];
      const ms: number[] = [];
      for (const [i, vector] of queries.entries()) {
        const t = performance.now();
        const found = await store.vectorSearch('solo', vector, filter, 10);
        if (i < WARM_UP) continue;
        ms.push(performance.now() - t);
        const recall = recallAt(found, truth[i] as VectorHit[]);
        strict.push(recall.strict);
        tieAware.push(recall.tieAware);
        epsilon.push(recall.epsilon);
      }
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const latency = summarize(ms);
      rows.push([
        `ef_search ${ef}`,
        mean(strict).toFixed(3),
        mean(tieAware).toFixed(3),
        mean(epsilon).toFixed(3),
        Math.min(...tieAware).toFixed(1),
        latency.p50.toFixed(2),
        latency.p95.toFixed(2),
      ]);
      log(
        `ef_search ${ef}: tie-aware ${mean(tieAware).toFixed(3)}, ε ${mean(epsilon).toFixed(3)}, p95 ${latency.p95.toFixed(2)} ms`,
      );
    } finally {
      await store.close();
    }
  }
  process.stdout.write(
    `# PostgreSQL HNSW recall per ef_search (\`npm run bench:hnsw\`)\n\n${machineTable()}\n\n` +
      `${memories.toLocaleString('en-US')} memories in one user (USE embeddings of generated texts), index built once in ${buildSeconds.toFixed(0)} s; ` +
      `${QUERIES} USE query embeddings after ${WARM_UP} warm-up, store-level vectorSearch, limit 10, ms.\n\n` +
      `${markdownTable(['search', 'recall@10 strict', 'tie-aware', 'ε-recall (ε = 0.01)', 'worst query (tie-aware)', 'p50 ms', 'p95 ms'], rows)}\n`,
  );
} finally {
  await service.store.close();
  await embedder.close();
  await dropPhase('postgres', dataDir);
  await bench.removeTempDirs();
}
