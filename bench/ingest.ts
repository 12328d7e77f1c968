/**
 * Bench sections a and b: ingest rates.
 *
 *   a. with the default embedder (USE): batches of 100 through addMany, single adds (one at a time,
 *      and several in flight)
 *   b. with supplied vectors (512-d synthetic clustered vectors, see gen.ts): json (small N) here, sqlite as part of the
 *      search scenarios (search-latency.ts)
 */
import type { MemoryService } from '../src/core/memory-service.js';
import type { AddMemoryInput } from '../src/core/schemas.js';
import type { Embedder } from '../src/embed/embedder.js';
import { ACTOR, BATCH, type Bench, DIM, diskBytes, type IngestRow, openPhase, SIZES } from './context.js';
import { clusteredVectors, memoryTexts } from './gen.js';
import { markdownTable, mb, progressBar } from './report.js';

const CONCURRENT_SINGLES = 8;

/** What a load does with its progress: advance the bar, and time the calls that count. */
export interface LoadProgress {
  tick(by?: number): void;
  /** Runs `call`; its duration counts towards the row's seconds. */
  timed<T>(call: () => Promise<T>): Promise<T>;
}

export interface LoadSpec {
  /** Progress-bar label. */
  label: string;
  /** Memories added. */
  count: number;
  row: Pick<IngestRow, 'what' | 'store' | 'vectors' | 'batch'>;
  /** The data dir whose size goes in the disk column after the load; none: not measured. */
  diskOf?: string;
  /** Or a measure of the store's size (a database server). */
  disk?: () => Promise<number>;
  /** Adds the memories; only what it runs through `progress.timed` is timed. */
  run(progress: LoadProgress): Promise<void>;
}

/** Runs one load under a progress bar and records its ingest row (seconds = time inside `timed`). */
export async function measureLoad(bench: Bench, spec: LoadSpec): Promise<void> {
  const bar = progressBar(spec.label, spec.count);
  let seconds = 0;
  await spec.run({
    tick: bar.increment,
    timed: async (call) => {
      const started = performance.now();
      const result = await call();
      seconds += (performance.now() - started) / 1000;
      return result;
    },
  });
  bar.stop();
  bench.ingestRows.push({
    ...spec.row,
    n: spec.count,
    seconds,
    rate: spec.count / seconds,
    disk: spec.disk ? await spec.disk() : spec.diskOf === undefined ? null : await diskBytes(spec.diskOf),
  });
}

/**
 * Adds `texts` through addMany in batches of BATCH, batch b for users[b % users.length]; each
 * addMany call goes through `progress.timed` (building the inputs is not timed).
 */
export async function addInBatches(
  service: MemoryService,
  texts: readonly string[],
  users: readonly string[],
  input: (content: string, index: number) => AddMemoryInput,
  progress: LoadProgress,
): Promise<void> {
  for (let i = 0, b = 0; i < texts.length; i += BATCH, b++) {
    const batch = texts.slice(i, i + BATCH).map((content, j) => input(content, i + j));
    await progress.timed(() => service.addMany(users[b % users.length] as string, batch, ACTOR));
    progress.tick(batch.length);
  }
}

/** Progress whose `timed` does not time: for a load timed as a whole by an outer `timed`. */
const untimed = (progress: LoadProgress): LoadProgress => ({ tick: progress.tick, timed: (call) => call() });

/** a. Real embedding: batches, single adds one at a time, single adds in flight. */
export async function ingestWithEmbedder(bench: Bench, embedder: Embedder): Promise<void> {
  const dataDir = await bench.tempDir('use');
  const service = await openPhase('sqlite', dataDir, embedder);
  const texts = memoryTexts(SIZES.useBatch + 2 * SIZES.useSingle, 101);
  const users = Array.from({ length: 10 }, (_, i) => `use-${i}`);
  const row = (what: string, batch: number) => ({ what, store: 'sqlite', vectors: 'USE', batch: String(batch) });

  // Batches of 100; the whole loop is timed.
  await measureLoad(bench, {
    label: 'a. USE ingest, batches',
    count: SIZES.useBatch,
    row: row('addMany, real embedding', BATCH),
    run: (progress) =>
      progress.timed(() =>
        addInBatches(service, texts.slice(0, SIZES.useBatch), users, (content) => ({ content }), untimed(progress)),
      ),
  });
  bench.recordRss('a. USE ingest (batches)');

  // One memory per request, one at a time.
  const singles = texts.slice(SIZES.useBatch, SIZES.useBatch + SIZES.useSingle);
  await measureLoad(bench, {
    label: 'a. USE ingest, single adds',
    count: singles.length,
    row: row('add, one at a time', 1),
    run: ({ tick, timed }) =>
      timed(async () => {
        for (const [i, content] of singles.entries()) {
          await service.add(users[i % users.length] as string, { content }, ACTOR);
          tick();
        }
      }),
  });

  // One memory per request, several requests in flight (what a busy server sees; micro-batched).
  const concurrent = texts.slice(SIZES.useBatch + SIZES.useSingle);
  let next = 0;
  await measureLoad(bench, {
    label: `a. USE single adds ×${CONCURRENT_SINGLES}`,
    count: concurrent.length,
    row: row(`add, ${CONCURRENT_SINGLES} in flight`, 1),
    diskOf: dataDir,
    run: ({ tick, timed }) =>
      timed(async () => {
        await Promise.all(
          Array.from({ length: CONCURRENT_SINGLES }, async (_, worker) => {
            while (next < concurrent.length) {
              const content = concurrent[next++] as string;
              await service.add(`use-c${worker}`, { content }, ACTOR);
              tick();
            }
          }),
        );
      }),
  });
  await service.store.close();
  bench.recordRss('a. USE ingest (single adds)');
}

export interface SuppliedLoad {
  label: string;
  count: number;
  /** Batches go to these users round-robin. */
  users: readonly string[];
  seed: number;
  what: string;
  store: string;
  /** Bytes the store occupies after the load; default: the size of `dataDir`. */
  disk?: () => Promise<number>;
}

/**
 * Adds `count` memories with supplied random vectors in batches of 100 and records the ingest row
 * with the size of `dataDir` after it. Only the addMany calls are timed (not generating inputs).
 */
export async function loadSupplied(
  bench: Bench,
  service: MemoryService,
  dataDir: string,
  load: SuppliedLoad,
): Promise<void> {
  const nextVector = clusteredVectors(load.seed, DIM);
  const texts = memoryTexts(load.count, load.seed);
  await measureLoad(bench, {
    label: load.label,
    count: load.count,
    row: { what: load.what, store: load.store, vectors: '512-d given', batch: String(BATCH) },
    ...(load.disk ? { disk: load.disk } : { diskOf: dataDir }),
    run: (progress) =>
      // Conversations of 20 memories (sessionId), so hybrid search's context lookups cost what they would.
      addInBatches(
        service,
        texts,
        load.users,
        (content, i) => ({
          content,
          embedding: nextVector(),
          sessionId: `conversation-${load.seed}-${Math.floor(i / 20)}`,
        }),
        progress,
      ),
  });
}

/** b. The json store with supplied vectors (small N: it keeps everything in memory). */
export async function ingestJson(bench: Bench, embedder: Embedder): Promise<void> {
  const dataDir = await bench.tempDir('json');
  const service = await openPhase('json', dataDir, embedder);
  await loadSupplied(bench, service, dataDir, {
    label: 'b. json, supplied vectors',
    count: SIZES.json,
    users: Array.from({ length: 10 }, (_, i) => `json-${i}`),
    seed: 202,
    what: 'addMany, vectors supplied',
    store: 'json (10 users)',
  });
  await service.store.close();
  bench.recordRss('b. json ingest');
}

/** The "Ingest" section of the report. */
export function ingestSection(rows: readonly IngestRow[]): string[] {
  return [
    '## Ingest',
    '',
    markdownTable(
      ['what', 'store', 'vectors', 'memories', 'batch', 'seconds', 'memories/s', 'disk MB'],
      rows.map((r) => [
        r.what,
        r.store,
        r.vectors,
        r.n,
        r.batch,
        r.seconds.toFixed(1),
        r.rate.toFixed(1),
        r.disk === null ? '–' : mb(r.disk).toFixed(1),
      ]),
    ),
    '',
    '_Rates with supplied vectors time only the addMany calls (not generating inputs); the disk column is the data dir after that step. ' +
      '"new db" = a database that has never been closed, so SQLite has no planner statistics; "after restart" = closed (PRAGMA optimize) ' +
      'and reopened first. Compare the two 1-user rows: without statistics the duplicate check (findByHash) scans the whole user._',
    '',
  ];
}
