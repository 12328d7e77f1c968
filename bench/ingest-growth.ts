/**
 * `npm run bench:growth`: does ingest stay flat as one user's store grows? Loads GROWTH_TOTAL
 * memories (default 1,000,000) into ONE user of a store that is never restarted (so SQLite's
 * planner has no statistics, as on every database between its creation and its first clean
 * close), in batches of 100 through `addMany` with 512-d vectors supplied, and reports the rate of
 * each slice (GROWTH_SLICES, default 10) against the first. Before the first slice and after the
 * last, it also adds GROWTH_EMBED_SAMPLE (default 500) new texts without vectors, so the default
 * embedder's model runs, and compares that ingest rate with the embedder's own rate on texts of
 * the same kind: does the store's cost stay small beside the model's at any size? After each
 * slice it times GROWTH_SEARCH_QUERIES (default 10) searches per mode in the user, excluding the
 * query's embedding. Markdown on stdout, progress on stderr; GROWTH_JSON=<file> also writes the
 * figures as JSON (what `npm run plots` draws docs/figures from).
 *
 *   GROWTH_TOTAL=200000 GROWTH_STORE=postgres npm run bench:growth
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { MemoryService } from '../src/core/memory-service.js';
import type { Embedder } from '../src/embed/embedder.js';
import { createEmbedder } from '../src/embed/registry.js';
import type { StoreName } from '../src/stores/registry.js';
import { ACTOR, BATCH, Bench, configFor, DIM, dropPhase, openPhase } from './context.js';
import { clusteredVectors, memoryTexts, queryTexts } from './gen.js';
import { fmt, log, machineInfo, machineTable, markdownTable, progressBar } from './report.js';
import { type Summary, summarize } from './stats.js';

const TOTAL = Number(process.env.GROWTH_TOTAL ?? 1_000_000);
const SLICES = Number(process.env.GROWTH_SLICES ?? 10);
const STORE = (process.env.GROWTH_STORE ?? 'sqlite') as StoreName;
const EMBED_SAMPLE = Number(process.env.GROWTH_EMBED_SAMPLE ?? 500);
const IN_FLIGHT = Number(process.env.GROWTH_IN_FLIGHT ?? 4);
const SEARCH_QUERIES = Number(process.env.GROWTH_SEARCH_QUERIES ?? 10);
const JSON_OUT = process.env.GROWTH_JSON;
const MODES = ['keyword', 'vector', 'hybrid'] as const;
const USER = 'one-large-user';
const SEED = 707;

/** The embedder's own rate against ingest with it, at one size of the user. */
interface EmbedRow {
  size: number;
  embedderPerSecond: number;
  ingestPerSecond: number;
}

/**
 * Embeds `EMBED_SAMPLE` texts on their own, then adds as many other texts (same generator, unseen
 * seeds: nothing is cached, the bench's embedder has no cache) through `addMany` without vectors.
 */
async function embedderBound(
  service: MemoryService,
  embedder: Embedder,
  size: number,
  seed: number,
): Promise<EmbedRow> {
  const own = memoryTexts(EMBED_SAMPLE, seed).map((text) => `${text} (own ${seed})`);
  const added = memoryTexts(EMBED_SAMPLE, seed + 1).map((text) => `${text} (added ${seed})`);
  // Warm the model's worker threads before timing (the store's writer is started by then, except
  // at size 0, where its start falls in the first timed add).
  await embedder.embed(memoryTexts(BATCH, seed + 2).map((text) => `${text} (warm ${seed})`));
  // IN_FLIGHT batches at a time, as an importer keeps a server busy: while one batch is written,
  // the model embeds the next. The embedder alone is driven the same way.
  const timed = async (texts: string[], run: (batch: string[]) => Promise<unknown>): Promise<number> => {
    const batches = Array.from({ length: Math.ceil(texts.length / BATCH) }, (_, i) =>
      texts.slice(i * BATCH, (i + 1) * BATCH),
    );
    const started = performance.now();
    const lane = async () => {
      for (let batch = batches.shift(); batch; batch = batches.shift()) await run(batch);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    return performance.now() - started;
  };
  const embedMs = await timed(own, (batch) => embedder.embed(batch));
  const ingestMs = await timed(added, (batch) =>
    service.addMany(
      USER,
      batch.map((content) => ({ content })),
      ACTOR,
    ),
  );
  const embedderPerSecond = own.length / (embedMs / 1000);
  const ingestPerSecond = added.length / (ingestMs / 1000);
  return { size, embedderPerSecond, ingestPerSecond };
}

interface SliceRow {
  from: number;
  to: number;
  seconds: number;
  batchMs: number[];
  /** Search latency excluding the query embedding, per mode, with the user at `to` memories. */
  search: Partial<Record<(typeof MODES)[number], Summary>>;
}

/** `SEARCH_QUERIES` searches per mode (2 more first, not counted), ms excluding the query's embedding. */
async function searchLatency(service: MemoryService, seed: number): Promise<SliceRow['search']> {
  const out: SliceRow['search'] = {};
  if (SEARCH_QUERIES <= 0) return out;
  for (const mode of MODES) {
    const ms: number[] = [];
    for (const [i, query] of queryTexts(SEARCH_QUERIES + 2, seed + mode.length).entries()) {
      const { timings } = await service.search(USER, { query, mode, limit: 10 });
      if (i >= 2) ms.push(timings.totalMs - timings.embedMs);
    }
    out[mode] = summarize(ms);
  }
  return out;
}

async function main(): Promise<void> {
  if (!(Number.isInteger(TOTAL) && TOTAL >= BATCH * SLICES))
    throw new Error(`GROWTH_TOTAL must be ≥ ${BATCH * SLICES}`);
  const began = performance.now();
  const bench = new Bench();
  const base = configFor(tmpdir());
  const embedder = createEmbedder('use', base.embed, { cacheSize: 0 });
  await embedder.init();
  const dataDir = await bench.tempDir(`growth-${STORE}`);
  const service = await openPhase(STORE, dataDir, embedder);
  const nextVector = clusteredVectors(SEED, DIM);
  const slice = Math.floor(TOTAL / SLICES / BATCH) * BATCH;
  const rows: SliceRow[] = [];
  const embedRows: EmbedRow[] = [];
  if (EMBED_SAMPLE > 0) embedRows.push(await embedderBound(service, embedder, 0, SEED + 10_000));
  const bar = progressBar(`${STORE}: 0→${fmt(TOTAL)} in one user`, slice * SLICES);
  try {
    for (let s = 0; s < SLICES; s++) {
      // Texts per slice (distinct across slices: the seed differs), so a million never sit in memory at once.
      const texts = memoryTexts(slice, SEED + s);
      const row: SliceRow = { from: s * slice, to: (s + 1) * slice, seconds: 0, batchMs: [], search: {} };
      for (let i = 0; i < texts.length; i += BATCH) {
        const batch = texts.slice(i, i + BATCH).map((content, j) => ({
          content: `${content} [${s}.${i + j}]`,
          embedding: nextVector(),
          sessionId: `conversation-${s}-${Math.floor((i + j) / 20)}`,
        }));
        const started = performance.now();
        await service.addMany(USER, batch, ACTOR);
        const ms = performance.now() - started;
        row.seconds += ms / 1000;
        row.batchMs.push(ms);
        bar.increment(batch.length);
      }
      row.search = await searchLatency(service, SEED + 50_000 + s);
      rows.push(row);
    }
    bar.stop();
    if (EMBED_SAMPLE > 0) embedRows.push(await embedderBound(service, embedder, slice * SLICES, SEED + 20_000));
  } finally {
    bar.stop();
    await service.store.close();
    await embedder.close();
    await dropPhase(STORE, dataDir);
    await bench.removeTempDirs();
  }

  const first = rows[0] as SliceRow;
  const rate = (row: SliceRow) => (row.to - row.from) / row.seconds;
  const table = markdownTable(
    ['memories in the user', 'memories/s', 'time per memory against the first slice', 'batch of 100 p50 ms', 'p99 ms'],
    rows.map((row) => {
      const batch = summarize(row.batchMs);
      return [
        `${fmt(row.from)}→${fmt(row.to)}`,
        rate(row).toFixed(0),
        `${(rate(first) / rate(row)).toFixed(2)}×`,
        batch.p50.toFixed(1),
        batch.p99.toFixed(1),
      ];
    }),
  );
  const seconds = rows.reduce((sum, row) => sum + row.seconds, 0);
  const worst = Math.max(...rows.map((row) => rate(first) / rate(row)));
  const out = [
    `# Ingest growth: ${fmt(slice * SLICES)} memories into one ${STORE} user, never restarted`,
    '',
    machineTable(),
    '',
    table,
    '',
    `Overall ${((slice * SLICES) / seconds).toFixed(0)} memories/s; the slowest slice is ${worst.toFixed(2)}× the first's time per memory. Batches of ${BATCH} through addMany, ${DIM}-d vectors supplied, ${((performance.now() - began) / 60_000).toFixed(1)} min in all.`,
  ];
  if (SEARCH_QUERIES > 0) {
    const ms = (summary: Summary | undefined) => summary?.p50.toFixed(1) ?? '–';
    const p95 = (summary: Summary | undefined) => summary?.p95.toFixed(1) ?? '–';
    out.push(
      '',
      markdownTable(
        ['memories in the user', ...MODES.flatMap((mode) => [`${mode} p50 ms`, `${mode} p95 ms`])],
        rows.map((row) => [fmt(row.to), ...MODES.flatMap((mode) => [ms(row.search[mode]), p95(row.search[mode])])]),
      ),
      '',
      `Search after each slice: ${SEARCH_QUERIES} questions per mode (2 more first, not counted), limit 10, time excluding the query's embedding (timings.totalMs − embedMs).`,
    );
  }
  if (JSON_OUT) {
    const figures = {
      store: STORE,
      machine: machineInfo(),
      batch: BATCH,
      dimension: DIM,
      slices: rows.map((row) => {
        const batch = summarize(row.batchMs);
        return {
          from: row.from,
          to: row.to,
          perSecond: rate(row),
          batchP50Ms: batch.p50,
          batchP99Ms: batch.p99,
          search: Object.fromEntries(
            Object.entries(row.search).map(([mode, summary]) => [mode, { p50: summary.p50, p95: summary.p95 }]),
          ),
        };
      }),
      embedder: embedRows,
    };
    await writeFile(JSON_OUT, `${JSON.stringify(figures, null, 2)}\n`);
  }
  if (embedRows.length > 0) {
    out.push(
      '',
      markdownTable(
        [
          'memories in the user',
          'embedder alone, texts/s',
          'addMany with it, memories/s',
          'ingest against the embedder',
        ],
        embedRows.map((row) => [
          fmt(row.size),
          row.embedderPerSecond.toFixed(0),
          row.ingestPerSecond.toFixed(0),
          `${((100 * row.ingestPerSecond) / row.embedderPerSecond).toFixed(0)} %`,
        ]),
      ),
      '',
      `${EMBED_SAMPLE} texts each, batches of ${BATCH}, ${IN_FLIGHT} in flight, the default embedder (${embedder.model}) with no cache.`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  log(String((error as Error)?.stack ?? error));
  process.exitCode = 1;
});
