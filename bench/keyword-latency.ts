/**
 * `npm run bench:keyword`: keyword and hybrid search latency (MemoryService timings) at N
 * memories over 100 users and N memories in one user (vectors supplied; default N = 10,000).
 *
 *   npm run bench:keyword                                         # sqlite, N = 10,000
 *   npm run bench:keyword -- --store postgres --memories 100000   # sqlite, then PostgreSQL, same data
 *
 * 350 new queries per row (the first 50 are warm-up), each to a random user of the scenario; the
 * store is restarted after loading. PostgreSQL loads without its HNSW index and builds it once
 * before searching (as `migrate-store` does), so hybrid search runs through the index. Then 5,000
 * more memories from one writer and 5,000 from two, with every index live: the ingest rate a
 * running deployment sees. Both stores
 * rank keywords with BM25 over the user's own memories (stores/sqlite/sqlite-keyword.ts,
 * stores/postgres/postgres-search.ts); this is what that costs.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { createEmbedder } from '../src/embed/registry.js';
import type { StoreName } from '../src/stores/registry.js';
import { ACTOR, BATCH, BENCH_STORES, Bench, configFor, DIM, dropPhase, openPhase, restart } from './context.js';
import { clusteredVectors, memoryTexts, prng, queryTexts } from './gen.js';
import { fmt, log, machineTable, markdownTable, progressBar } from './report.js';
import { summarize } from './stats.js';

const { values } = parseArgs({ options: { memories: { type: 'string' } }, strict: false });
const memories = Number(values.memories ?? 10_000);
if (!Number.isInteger(memories) || memories < BATCH) throw new Error(`--memories must be an integer ≥ ${BATCH}`);
const QUERIES = 350;
const WARM_UP = 50;
/** Memories added per writer count after the searches, with every index live. */
const LIVE_INGEST = 5_000;

const bench = new Bench();
const embedder = createEmbedder('use', configFor(tmpdir()).embed);
log('loading the USE embedder …');
await embedder.init();

const scenarios = [
  { label: `${fmt(memories)} memories, 100 users`, users: Array.from({ length: 100 }, (_, i) => `user-${i}`) },
  { label: `${fmt(memories)} memories in one user`, users: ['solo'] },
];
const rows: (string | number)[][] = [];
const ingestRows: (string | number)[][] = [];
try {
  for (const scenario of scenarios) {
    for (const store of BENCH_STORES) await measure(store, scenario);
  }
} finally {
  await embedder.close();
}
process.stdout.write(
  `# Keyword search latency (\`npm run bench:keyword\`)\n\n${machineTable()}\n\n${markdownTable(
    ['memories / users', 'store', 'mode', 'p50 ms', 'p95 ms', 'p99 ms', 'excl. embed p50', 'excl. embed p95'],
    rows,
  )}\n\n_${QUERIES - WARM_UP} queries per row after ${WARM_UP} warm-up, each to a random user; query embeddings are cached after their first use; vectors are synthetic 512-d (gen.ts)._\n\n` +
    `## Ingest with every index live, after the searches\n\n${markdownTable(['memories / users', 'store', 'writers', 'memories/s'], ingestRows)}\n\n` +
    `_${LIVE_INGEST.toLocaleString('en-US')} more memories per row through addMany in batches of ${BATCH} (vectors supplied), from one or two concurrent writers._\n`,
);

async function measure(store: StoreName, scenario: (typeof scenarios)[number]): Promise<void> {
  const dataDir = await bench.tempDir(`keyword-${store}`);
  let service = await openPhase(store, dataDir, embedder);
  try {
    const rebuild = store === 'postgres' ? await service.store.deferIndexes?.() : undefined;
    const texts = memoryTexts(memories, 3);
    const vector = clusteredVectors(4, DIM);
    const bar = progressBar(`${store} load ${scenario.label}`, memories);
    for (let i = 0; i < memories; i += BATCH) {
      const user = scenario.users[(i / BATCH) % scenario.users.length] as string;
      const batch = texts.slice(i, i + BATCH).map((content) => ({ content, embedding: vector(), infer: false }));
      await service.addMany(user, batch, ACTOR);
      bar.increment(batch.length);
    }
    bar.stop();
    if (rebuild) {
      log('building the HNSW index …');
      await rebuild();
    }
    service = await restart(service, dataDir, embedder);
    const random = prng(5);
    const queries = queryTexts(QUERIES, 5);
    for (const mode of ['keyword', 'hybrid'] as const) {
      const totals: number[] = [];
      const excluded: number[] = [];
      for (const [i, query] of queries.entries()) {
        const user = scenario.users[Math.floor(random() * scenario.users.length)] as string;
        const { timings } = await service.search(user, { query, mode, limit: 10 });
        if (i < WARM_UP) continue;
        totals.push(timings.totalMs);
        excluded.push(timings.totalMs - timings.embedMs);
      }
      const total = summarize(totals);
      const store_ = summarize(excluded);
      const ms = (value: number) => value.toFixed(2);
      rows.push([
        scenario.label,
        store,
        mode,
        ms(total.p50),
        ms(total.p95),
        ms(total.p99),
        ms(store_.p50),
        ms(store_.p95),
      ]);
    }
    // Ingest with every index live (PostgreSQL's HNSW index included), on top of the loaded store.
    const more = memoryTexts(LIVE_INGEST * 2, 6);
    for (const writers of [1, 2]) {
      const texts = more.slice((writers - 1) * LIVE_INGEST, writers * LIVE_INGEST);
      let next = 0;
      const began = performance.now();
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let i = next; i < texts.length; i = next) {
            next += BATCH;
            const user = scenario.users[(i / BATCH) % scenario.users.length] as string;
            const batch = texts.slice(i, i + BATCH).map((content) => ({ content, embedding: vector(), infer: false }));
            await service.addMany(user, batch, ACTOR);
          }
        }),
      );
      const rate = LIVE_INGEST / ((performance.now() - began) / 1000);
      ingestRows.push([scenario.label, store, writers, Math.round(rate).toLocaleString('en-US')]);
    }
  } finally {
    await service.store.close();
    await rm(dataDir, { recursive: true, force: true });
    await dropPhase(store, dataDir);
  }
}
