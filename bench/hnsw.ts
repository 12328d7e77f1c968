/**
 * Bench section d (postgres runs): HNSW recall@10 against exact search, on the supplied-vector
 * scenarios (called from search-latency.ts) and on real USE embeddings of generated texts.
 */
import type { MemoryService } from '../src/core/memory-service.js';
import type { VectorHit } from '../src/core/types.js';
import type { Embedder } from '../src/embed/embedder.js';
import {
  type Bench,
  DIM,
  dropPhase,
  openExactPostgres,
  openPhase,
  type RecallRow,
  restart,
  SIZES,
  WARM_UP,
} from './context.js';
import { clusteredVectors, memoryTexts, prng, queryTexts } from './gen.js';
import { addInBatches, measureLoad } from './ingest.js';
import { fmt, markdownTable, progressBar } from './report.js';
import { summarize } from './stats.js';

/** Similarities this close count as equal in tie-aware recall. */
const TIE = 1e-6;
/** ε of ε-recall (as ann-benchmarks reports it): within 1% of the exact last one's distance. */
const EPSILON = 0.01;

export interface Recall {
  /** The share of the exact ids found. */
  strict: number;
  /** A found memory also counts when it is as similar as the exact last one (within TIE). */
  tieAware: number;
  /** A found memory also counts when its cosine distance is within (1 + ε) of the exact last one's. */
  epsilon: number;
}

/**
 * Recall of `found` against the exact `truth` (both best first). With near-duplicate texts an
 * equally close memory in place of the exact one is not a miss (tie-aware), and one a hair
 * farther hardly is (ε-recall).
 */
export function recallAt(found: readonly VectorHit[], truth: readonly VectorHit[]): Recall {
  if (truth.length === 0) return { strict: 1, tieAware: 1, epsilon: 1 };
  const ids = new Set(truth.map((hit) => hit.id));
  const last = (truth.at(-1) as VectorHit).similarity;
  const share = (counts: (hit: VectorHit) => boolean) =>
    Math.min(found.filter((hit) => ids.has(hit.id) || counts(hit)).length, truth.length) / truth.length;
  return {
    strict: share(() => false),
    tieAware: share((hit) => hit.similarity >= last - TIE),
    epsilon: share((hit) => 1 - hit.similarity <= (1 + EPSILON) * (1 - last) + TIE),
  };
}

/** Query vectors from the distribution of the stored ones: USE embeddings of queries, or synthetic. */
export type QueryVectors = 'use' | 'clustered';

/**
 * HNSW recall@10 against exact search on the same PostgreSQL data: the same query vectors through
 * the store as configured (HNSW on) and through a second store instance with HNSW off.
 */
export async function hnswRecall(
  bench: Bench,
  service: MemoryService,
  dataDir: string,
  config: string,
  users: readonly string[],
  seed: number,
  kind: QueryVectors,
): Promise<void> {
  const exact = await openExactPostgres(dataDir);
  try {
    const rand = prng(seed);
    const count = SIZES.queries + WARM_UP;
    const next = clusteredVectors(seed, DIM);
    const vectors =
      kind === 'use'
        ? await service.embedder.embed(queryTexts(count, seed))
        : Array.from({ length: count }, () => Float32Array.from(next()));
    const bar = progressBar(`d. recall ${config}`, count);
    const recalls: number[] = [];
    const hnswMs: number[] = [];
    const exactMs: number[] = [];
    for (const [i, vector] of vectors.entries()) {
      const user = users[Math.floor(rand() * users.length)] as string;
      const filter = { now: new Date().toISOString() };
      let began = performance.now();
      const approximate = await service.store.vectorSearch(user, vector, filter, 10);
      const hnswTime = performance.now() - began;
      began = performance.now();
      const truth = await exact.vectorSearch(user, vector, filter, 10);
      const exactTime = performance.now() - began;
      if (i >= WARM_UP) {
        recalls.push(recallAt(approximate, truth).strict);
        hnswMs.push(hnswTime);
        exactMs.push(exactTime);
      }
      bar.increment();
    }
    bar.stop();
    bench.recallRows.push({
      config,
      queries: recalls.length,
      recall: recalls.reduce((a, b) => a + b, 0) / recalls.length,
      worst: Math.min(...recalls),
      hnsw: summarize(hnswMs),
      exact: summarize(exactMs),
    });
  } finally {
    await exact.close();
  }
}

/**
 * d. One user's SIZES.large memories embedded by USE into PostgreSQL (the HNSW index maintained as
 * rows arrive), then recall: real embeddings have the neighbourhood structure random vectors lack.
 */
export async function hnswRealEmbeddings(bench: Bench, embedder: Embedder): Promise<void> {
  const dataDir = await bench.tempDir('postgres-use');
  let service = await openPhase('postgres', dataDir, embedder);
  const count = SIZES.large;
  const texts = memoryTexts(count, 707);
  try {
    await measureLoad(bench, {
      label: 'd. USE → postgres, 1 user',
      count,
      row: {
        what: 'addMany, real embedding, HNSW index maintained',
        store: 'postgres (1 user)',
        vectors: 'USE',
        batch: '100',
      },
      disk: async () => (await service.store.stats()).bytes ?? 0,
      run: (progress) =>
        addInBatches(
          service,
          texts,
          ['solo'],
          (content, i) => ({ content, sessionId: `c-${Math.floor(i / 20)}` }),
          progress,
        ),
    });
    service = await restart(service, dataDir, embedder);
    await hnswRecall(bench, service, dataDir, `${fmt(count)}/1 user postgres, USE`, ['solo'], 708, 'use');
    bench.recordRss('d. HNSW recall on USE embeddings');
  } finally {
    await service.store.close();
    await dropPhase('postgres', dataDir);
  }
}

/** The "HNSW recall" section (postgres runs only). */
export function recallSection(rows: readonly RecallRow[]): string[] {
  if (rows.length === 0) return [];
  const ms = (value: number) => value.toFixed(2);
  return [
    '## PostgreSQL vector search: HNSW against exact',
    '',
    markdownTable(
      [
        'memories / users',
        'vectors',
        'queries',
        'recall@10',
        'worst query',
        'HNSW p50',
        'HNSW p95',
        'exact p50',
        'exact p95',
      ],
      rows.map((r) => [
        r.config,
        r.config.includes('USE') ? 'USE embeddings (queries: USE)' : 'synthetic clustered (queries: same distribution)',
        r.queries,
        r.recall.toFixed(3),
        r.worst.toFixed(1),
        ms(r.hnsw.p50),
        ms(r.hnsw.p95),
        ms(r.exact.p50),
        ms(r.exact.p95),
      ]),
    ),
    '',
    '_Store-level vectorSearch (limit 10, ms) for the same query vectors to a random user: ' +
      'the store as configured (HNSW index, ef_search 100, iterative scan) and a second instance with ENGRAM_POSTGRES_HNSW=false (exact). ' +
      'recall@10 = share of the exact top 10 the HNSW search returned. The planner may scan a user with few memories exactly, ' +
      'which shows as recall 1 and equal times._',
    '',
  ];
}
