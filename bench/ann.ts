/**
 * `npm run bench:ann`: the SQLite store's approximate vector index (src/stores/sqlite/ann/) on one
 * large user. For each size: the exact scan's latency, the index build's time, the index's
 * latency and recall@10 against the exact scan (strict and tie-aware, bench/hnsw.ts), and the
 * latency once rows have arrived since the build (scanned exactly beside the index). Then recall
 * on real USE embeddings of generated texts, which have the neighbourhood structure the synthetic
 * clustered vectors lack. With each: keyword search, and keyword with vector search at once (the
 * store's part of a hybrid search), on generated texts (bench/gen.ts).
 *
 *   npm run bench:ann -- --sizes 100000,1000000 --queries 200 --real 20000 --threads 2
 *   npm run bench:ann -- --sizes 1000000 --memory load     # reader threads load the index (annMemory)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { contentHash } from '../src/core/ids.js';
import { queryTerms } from '../src/core/text.js';
import type { Memory, MemoryRecord, StoreFilter, VectorHit } from '../src/core/types.js';
import { createEmbedder } from '../src/embed/registry.js';
import { SqliteStore } from '../src/stores/sqlite/index.js';
import { configFor } from './context.js';
import { clusteredVectors, memoryTexts, queryTexts } from './gen.js';
import { recallAt } from './hnsw.js';
import { fmt, log, machineTable, markdownTable, progressBar } from './report.js';
import { summarize } from './stats.js';

const options = new Command()
  .addOption(new Option('--sizes <list>', 'memories in the one user, comma-separated').default('100000,1000000'))
  .addOption(new Option('--queries <n>', 'queries per measurement').default('200'))
  .addOption(
    new Option('--real <n>', 'memories embedded by USE for the real-embedding recall (0: skip)').default('20000'),
  )
  .addOption(new Option('--since <n>', 'memories added after the build, before the last measurement').default('5000'))
  .addOption(new Option('--exact <n>', 'of the queries, how many also run as exact scans (the recall baseline)'))
  .addOption(
    new Option('--threads <n>', 'threads the index build inserts with (ENGRAM_SQLITE_ANN_THREADS)').default('2'),
  )
  .addOption(
    new Option('--memory <how>', 'how reader threads hold the index (ENGRAM_SQLITE_ANN_MEMORY)')
      .choices(['map', 'load'])
      .default('map'),
  )
  .parse()
  .opts<{
    sizes: string;
    queries: string;
    real: string;
    since: string;
    threads: string;
    memory: 'map' | 'load';
    exact?: string;
  }>();

const USER = 'large';
const DIMENSION = 512;
const BATCH = 1_000;
const K = 10;

interface Row {
  what: string;
  vectors: string;
  memories: number;
  buildS: number | string;
  exactP50: number;
  exactP95: number;
  annP50: number;
  annP95: number;
  recall: number;
  tieAware: number;
  worst: number;
  sinceP95: number | string;
  keywordP50: number;
  keywordP95: number;
  hybridP50: number;
  hybridP95: number;
}

function record(n: number, content: string, vector: Float32Array): MemoryRecord {
  const now = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
  const memory: Memory = {
    id: `m${n.toString().padStart(9, '0')}`,
    userId: USER,
    agentId: null,
    sessionId: null,
    content,
    category: 'general',
    tags: [],
    metadata: {},
    createdAt: now,
    updatedAt: now,
    eventAt: null,
    expiresAt: null,
    pinned: false,
    source: 'import',
    hash: contentHash(content),
    supersededBy: null,
    validTo: null,
    accessCount: 0,
    lastAccessedAt: null,
  };
  return { memory, vector };
}

async function fill(
  store: SqliteStore,
  from: number,
  vectors: (i: number) => Float32Array,
  texts: (n: number) => string,
  count: number,
  label: string,
) {
  const bar = progressBar(label, count);
  for (let i = 0; i < count; i += BATCH) {
    const size = Math.min(BATCH, count - i);
    await store.insert(
      Array.from({ length: size }, (_, j) => record(from + i + j, texts(from + i + j), vectors(i + j))),
      [],
    );
    bar.increment(size);
  }
  bar.stop();
}

async function timed(store: SqliteStore, queries: Float32Array[]): Promise<{ hits: VectorHit[][]; ms: number[] }> {
  const filter: StoreFilter = { now: new Date().toISOString() };
  const hits: VectorHit[][] = [];
  const ms: number[] = [];
  for (const query of queries) {
    const began = performance.now();
    hits.push(await store.vectorSearch(USER, query, filter, K));
    ms.push(performance.now() - began);
  }
  return { hits, ms };
}

/**
 * Keyword search, and keyword with vector search at once (what hybrid search asks of the store,
 * CANDIDATES each), for each question.
 */
async function textTimed(
  store: SqliteStore,
  questions: string[],
  queries: Float32Array[],
): Promise<{ keyword: number[]; hybrid: number[] }> {
  const filter: StoreFilter = { now: new Date().toISOString() };
  const keyword: number[] = [];
  const hybrid: number[] = [];
  for (const [i, question] of questions.entries()) {
    const terms = queryTerms(question);
    let began = performance.now();
    await store.keywordSearch(USER, terms, filter, CANDIDATES);
    keyword.push(performance.now() - began);
    began = performance.now();
    await Promise.all([
      store.keywordSearch(USER, terms, filter, CANDIDATES),
      store.vectorSearch(USER, queries[i % queries.length] as Float32Array, filter, CANDIDATES),
    ]);
    hybrid.push(performance.now() - began);
  }
  return { keyword, hybrid };
}

/** One user of `count` memories: exact, built, approximate, recall, and after `since` more rows. */
async function measure(
  what: string,
  kind: string,
  count: number,
  vectors: (i: number) => Float32Array,
  texts: (n: number) => string,
  queries: Float32Array[],
  questions: string[],
  since: number,
): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'engram-bench-ann-'));
  const path = join(dir, 'engram.db');
  const exactStore = new SqliteStore({ path, annMinMemories: 0, synchronous: 'normal' });
  const store = new SqliteStore({ path, annThreads: Number(options.threads), annMemory: options.memory });
  try {
    await exactStore.init();
    await fill(exactStore, 0, vectors, texts, count, `${what}: ${fmt(count)} memories`);
    await store.init();
    // Exact scans take seconds each at 1M: `--exact` limits recall and exact latency to the first ones.
    const baseline = queries.slice(0, Number(options.exact ?? queries.length));
    const exact = await timed(exactStore, baseline);
    log(`${what}: building the index …`);
    const began = performance.now();
    await store.ann.build(USER);
    const buildS = (performance.now() - began) / 1000;
    await timed(store, queries.slice(0, 20)); // maps the file and its pages on the reader threads
    const approximate = await timed(store, queries);
    const recalls = exact.hits.map((truth, i) => recallAt(approximate.hits[i] as VectorHit[], truth));
    await textTimed(store, questions.slice(0, 20), queries);
    const text = await textTimed(store, questions, queries);
    let sinceP95: number | string = '–';
    if (since > 0) {
      await fill(exactStore, count, (i) => vectors(count + i), texts, since, `${what}: ${fmt(since)} more`);
      sinceP95 = summarize((await timed(store, queries)).ms).p95;
    }
    const exactSummary = summarize(exact.ms);
    const annSummary = summarize(approximate.ms);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const keyword = summarize(text.keyword);
    const hybrid = summarize(text.hybrid);
    return {
      what,
      vectors: kind,
      memories: count,
      buildS,
      exactP50: exactSummary.p50,
      exactP95: exactSummary.p95,
      annP50: annSummary.p50,
      annP95: annSummary.p95,
      recall: mean(recalls.map((r) => r.strict)),
      tieAware: mean(recalls.map((r) => r.tieAware)),
      worst: Math.min(...recalls.map((r) => r.tieAware)),
      sinceP95,
      keywordP50: keyword.p50,
      keywordP95: keyword.p95,
      hybridP50: hybrid.p50,
      hybridP95: hybrid.p95,
    };
  } finally {
    await store.close();
    await exactStore.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
const CANDIDATES = 50;
const queryCount = Number(options.queries);
const since = Number(options.since);
for (const size of options.sizes
  .split(',')
  .map(Number)
  .filter((n) => n > 0)) {
  const stored = clusteredVectors(1, DIMENSION);
  const asked = clusteredVectors(7, DIMENSION);
  const queries = Array.from({ length: queryCount }, () => Float32Array.from(asked()));
  const texts = memoryTexts(size, 707);
  const questions = queryTexts(queryCount, 708);
  rows.push(
    await measure(
      `synthetic ${fmt(size)}`,
      'clustered 512-d',
      size,
      () => Float32Array.from(stored()),
      (n) => texts[n % size] as string,
      queries,
      questions,
      since,
    ),
  );
}
const real = Number(options.real);
if (real > 0) {
  const embedder = createEmbedder('use', configFor(tmpdir()).embed, { cacheSize: 0 });
  await embedder.init();
  try {
    log(`embedding ${fmt(real)} memories and ${queryCount} questions with USE …`);
    const texts = memoryTexts(real, 707);
    const embedded: Float32Array[] = [];
    const bar = progressBar('USE embeddings', real);
    for (let i = 0; i < real; i += 500) {
      embedded.push(...(await embedder.embed(texts.slice(i, i + 500))));
      bar.increment(Math.min(500, real - i));
    }
    bar.stop();
    const questions = queryTexts(queryCount, 708);
    const queries = await embedder.embed(questions);
    rows.push(
      await measure(
        `USE ${fmt(real)}`,
        'USE 512-d',
        real,
        (i) => embedded[i % real] as Float32Array,
        (n) => texts[n % real] as string,
        queries,
        questions,
        0,
      ),
    );
  } finally {
    await embedder.close();
  }
}

process.stdout.write(`\n${machineTable()}\n\n`);
process.stdout.write(
  `${markdownTable(
    [
      'vectors',
      'memories',
      'build s',
      'exact p50 / p95 ms',
      'index p50 / p95 ms',
      'recall@10',
      'tie-aware',
      'worst query',
      `index p95 ms, ${fmt(since)} added since`,
      'keyword p50 / p95 ms',
      'keyword + vector p50 / p95 ms',
    ],
    rows.map((row) => [
      row.vectors,
      fmt(row.memories),
      row.buildS,
      `${fmt(row.exactP50)} / ${fmt(row.exactP95)}`,
      `${fmt(row.annP50)} / ${fmt(row.annP95)}`,
      row.recall.toFixed(3),
      row.tieAware.toFixed(3),
      row.worst.toFixed(2),
      row.sinceP95,
      `${fmt(row.keywordP50)} / ${fmt(row.keywordP95)}`,
      `${fmt(row.hybridP50)} / ${fmt(row.hybridP95)}`,
    ]),
    1,
  )}\n`,
);
