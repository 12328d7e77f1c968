/**
 * `npm run bench`: Engram performance on this machine. Markdown report on stdout, progress on stderr.
 *
 *   a. ingest with the default embedder (USE): batches of 100 through addMany, single adds
 *   b. ingest with supplied vectors (512-d random unit vectors): sqlite, and json (small N)
 *   c. search latency p50/p95/p99 per mode at 10k and 100k memories (100 users) and 100k in one user,
 *      query embedding (timings.embedMs) reported apart from end-to-end (timings.totalMs)
 *   d. RSS after each phase
 *   e. /health latency of a real server during a large HTTP import (target p99 < 50 ms)
 *
 * BENCH_SCALE (default 1) scales every size, e.g. BENCH_SCALE=0.1 for a quick run. Settings from
 * the environment (ENGRAM_EMBED_THREADS, ENGRAM_SQLITE_SYNCHRONOUS, ENGRAM_SEARCH_*) apply.
 * Run with --expose-gc so RSS is read after a full collection.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { type Config, loadConfig } from '../src/config.js';
import { type Actor, MemoryService } from '../src/core/memory-service.js';
import type { AddMemoryInput } from '../src/core/schemas.js';
import type { Embedder } from '../src/embed/embedder.js';
import { createEmbedder } from '../src/embed/registry.js';
import { createLogger } from '../src/logger.js';
import { openService } from '../src/runtime.js';
import { startServer } from '../src/server/server.js';
import { createStore, type StoreName } from '../src/stores/registry.js';
import { memoryTexts, prng, queryTexts, unitVector } from './gen.js';
import type { ProbeResult } from './health-probe.js';
import { type Cell, log, machineTable, markdownTable, mb, progressBar } from './report.js';
import { type Summary, summarize } from './stats.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 10)) throw new Error(`BENCH_SCALE must be within (0, 10], got ${process.env.BENCH_SCALE}`);
const sized = (base: number, min: number) => Math.max(min, Math.round(base * SCALE));

const SIZES = {
  useBatch: sized(3_000, 100),
  useSingle: sized(300, 20),
  json: sized(2_000, 100),
  small: sized(10_000, 1_000),
  large: sized(100_000, 2_000),
  queries: sized(300, 30),
  http: sized(3_000, 200),
};
const BATCH = 100;
const USERS = 100;
const DIM = 512;
const MODES = ['hybrid', 'keyword', 'vector'] as const;
const ACTOR: Actor = { name: 'bench', source: 'import' };
const CONCURRENT_SINGLES = 8;
const HEALTH_INTERVAL_MS = 20;
const HEALTH_TARGET_P99_MS = 50;

const tempDirs: string[] = [];
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `engram-bench-${label}-`));
  tempDirs.push(dir);
  return dir;
}

function configFor(dataDir: string, extra: Record<string, unknown> = {}): Config {
  // The database path is pinned into the temp dir so ENGRAM_SQLITE_PATH can never point a
  // benchmark at real data. The embedding cache is off: every text and query is really embedded.
  return loadConfig({
    overrides: {
      dataDir,
      logLevel: 'silent',
      sqlite: { path: join(dataDir, 'engram.db') },
      embed: { cacheSize: 0 },
      ...extra,
    },
  });
}

async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await diskBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Report rows

interface IngestRow {
  what: string;
  store: string;
  vectors: string;
  n: number;
  batch: string;
  seconds: number;
  rate: number;
  disk: number | null;
}
interface SearchRow {
  config: string;
  memories: number;
  users: number;
  mode: string;
  n: number;
  embed: Summary;
  total: Summary;
  store: Summary;
}
const ingestRows: IngestRow[] = [];
const searchRows: SearchRow[] = [];
const rssRows: Cell[][] = [];
const notes: string[] = [];

function recordRss(phase: string): void {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  rssRows.push([phase, mb(usage.rss), mb(usage.heapUsed), mb(usage.external + usage.arrayBuffers)]);
  log(`  RSS after ${phase}: ${mb(usage.rss).toFixed(0)} MB`);
}

// ---------------------------------------------------------------------------------------------
// Phases

/** A service over a fresh store in `dataDir`, sharing the one embedder (closing only the store). */
async function openPhase(store: StoreName, dataDir: string, embedder: Embedder): Promise<MemoryService> {
  const config = configFor(dataDir, { store });
  const service = new MemoryService({
    store: createStore(store, { dataDir, sqlite: config.sqlite }),
    embedder,
    search: { ...config.search, k: config.search.rrfK },
  });
  await service.init();
  return service;
}

async function ingestWithEmbedder(embedder: Embedder): Promise<void> {
  const dataDir = await tempDir('use');
  const service = await openPhase('sqlite', dataDir, embedder);
  const texts = memoryTexts(SIZES.useBatch + 2 * SIZES.useSingle, 101);
  const users = 10;

  // Batches of 100.
  let bar = progressBar('a. USE ingest, batches', SIZES.useBatch);
  let started = performance.now();
  for (let i = 0, b = 0; i < SIZES.useBatch; i += BATCH, b++) {
    const batch = texts.slice(i, Math.min(i + BATCH, SIZES.useBatch)).map((content) => ({ content }));
    await service.addMany(`use-${b % users}`, batch, ACTOR);
    bar.increment(batch.length);
  }
  let seconds = (performance.now() - started) / 1000;
  bar.stop();
  ingestRows.push({
    what: 'addMany, real embedding',
    store: 'sqlite',
    vectors: 'USE',
    n: SIZES.useBatch,
    batch: String(BATCH),
    seconds,
    rate: SIZES.useBatch / seconds,
    disk: null,
  });
  recordRss('a. USE ingest (batches)');

  // One memory per request, one at a time.
  const singles = texts.slice(SIZES.useBatch, SIZES.useBatch + SIZES.useSingle);
  bar = progressBar('a. USE ingest, single adds', singles.length);
  started = performance.now();
  for (const [i, content] of singles.entries()) {
    await service.add(`use-${i % users}`, { content }, ACTOR);
    bar.increment();
  }
  seconds = (performance.now() - started) / 1000;
  bar.stop();
  ingestRows.push({
    what: 'add, one at a time',
    store: 'sqlite',
    vectors: 'USE',
    n: singles.length,
    batch: '1',
    seconds,
    rate: singles.length / seconds,
    disk: null,
  });

  // One memory per request, several requests in flight (what a busy server sees; micro-batched).
  const concurrent = texts.slice(SIZES.useBatch + SIZES.useSingle);
  bar = progressBar(`a. USE single adds ×${CONCURRENT_SINGLES}`, concurrent.length);
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENT_SINGLES }, async (_, worker) => {
      while (next < concurrent.length) {
        const content = concurrent[next++] as string;
        await service.add(`use-c${worker}`, { content }, ACTOR);
        bar.increment();
      }
    }),
  );
  seconds = (performance.now() - started) / 1000;
  bar.stop();
  ingestRows.push({
    what: `add, ${CONCURRENT_SINGLES} in flight`,
    store: 'sqlite',
    vectors: 'USE',
    n: concurrent.length,
    batch: '1',
    seconds,
    rate: concurrent.length / seconds,
    disk: await diskBytes(dataDir),
  });
  await service.store.close();
  recordRss('a. USE ingest (single adds)');
}

/**
 * Adds `count` memories with supplied random vectors in batches of 100, the users round-robin per
 * batch. Only the addMany calls are timed (not generating the inputs).
 */
async function bulkLoad(
  service: MemoryService,
  label: string,
  count: number,
  users: string[],
  seed: number,
): Promise<{ seconds: number }> {
  const rand = prng(seed);
  const texts = memoryTexts(count, seed);
  const bar = progressBar(label, count);
  let seconds = 0;
  for (let i = 0, b = 0; i < count; i += BATCH, b++) {
    const batch: AddMemoryInput[] = texts
      .slice(i, Math.min(i + BATCH, count))
      .map((content) => ({ content, embedding: unitVector(rand, DIM) }));
    const started = performance.now();
    await service.addMany(users[b % users.length] as string, batch, ACTOR);
    seconds += (performance.now() - started) / 1000;
    bar.increment(batch.length);
  }
  bar.stop();
  return { seconds };
}

async function ingestJson(embedder: Embedder): Promise<void> {
  const dataDir = await tempDir('json');
  const service = await openPhase('json', dataDir, embedder);
  const users = Array.from({ length: 10 }, (_, i) => `json-${i}`);
  const { seconds } = await bulkLoad(service, 'b. json, supplied vectors', SIZES.json, users, 202);
  ingestRows.push({
    what: 'addMany, vectors supplied',
    store: 'json (10 users)',
    vectors: '512-d given',
    n: SIZES.json,
    batch: String(BATCH),
    seconds,
    rate: SIZES.json / seconds,
    disk: await diskBytes(dataDir),
  });
  await service.store.close();
  recordRss('b. json ingest');
}

async function searchLatency(
  service: MemoryService,
  config: string,
  memories: number,
  users: string[],
  seed: number,
): Promise<void> {
  const rand = prng(seed);
  for (const mode of MODES) {
    const queries = queryTexts(SIZES.queries + 5, seed + mode.length);
    const bar = progressBar(`c. search ${config} ${mode}`, queries.length);
    const embeds: number[] = [];
    const totals: number[] = [];
    const storeMs: number[] = [];
    for (const [i, query] of queries.entries()) {
      const user = users[Math.floor(rand() * users.length)] as string;
      const { timings } = await service.search(user, { query, mode, limit: 10 });
      if (i >= 5) {
        // the first five warm caches and statements up
        embeds.push(timings.embedMs);
        totals.push(timings.totalMs);
        storeMs.push(timings.totalMs - timings.embedMs);
      }
      bar.increment();
    }
    bar.stop();
    searchRows.push({
      config,
      memories,
      users: users.length,
      mode,
      n: totals.length,
      embed: summarize(embeds),
      total: summarize(totals),
      store: summarize(storeMs),
    });
  }
}

/**
 * Closes and reopens the store, as a server restart would. Closing runs `PRAGMA optimize`, which
 * gives SQLite's planner table statistics; a database that was never closed has none (see notes).
 */
async function restart(service: MemoryService, dataDir: string, embedder: Embedder): Promise<MemoryService> {
  await service.store.close();
  return openPhase('sqlite', dataDir, embedder);
}

const n = (value: number) => value.toLocaleString('en-US');

async function supplied100Users(embedder: Embedder): Promise<void> {
  const dataDir = await tempDir('sqlite-users');
  let service = await openPhase('sqlite', dataDir, embedder);
  const users = Array.from({ length: USERS }, (_, i) => `user-${String(i).padStart(3, '0')}`);
  const store = `sqlite (${USERS} users)`;

  let { seconds } = await bulkLoad(service, `b. sqlite 0→${SIZES.small}`, SIZES.small, users, 303);
  ingestRows.push({
    what: `addMany, vectors supplied, 0→${n(SIZES.small)}, new db`,
    store,
    vectors: '512-d given',
    n: SIZES.small,
    batch: String(BATCH),
    seconds,
    rate: SIZES.small / seconds,
    disk: await diskBytes(dataDir),
  });
  recordRss(`b. sqlite load ${n(SIZES.small)}`);
  service = await restart(service, dataDir, embedder);
  await searchLatency(service, `${n(SIZES.small)}/${USERS} users`, SIZES.small, users, 304);
  recordRss(`c. search at ${n(SIZES.small)}`);

  const more = SIZES.large - SIZES.small;
  ({ seconds } = await bulkLoad(service, `b. sqlite ${SIZES.small}→${SIZES.large}`, more, users, 305));
  ingestRows.push({
    what: `addMany, vectors supplied, ${n(SIZES.small)}→${n(SIZES.large)}, after restart`,
    store,
    vectors: '512-d given',
    n: more,
    batch: String(BATCH),
    seconds,
    rate: more / seconds,
    disk: await diskBytes(dataDir),
  });
  recordRss(`b. sqlite load ${n(SIZES.large)}`);
  service = await restart(service, dataDir, embedder);
  await searchLatency(service, `${n(SIZES.large)}/${USERS} users`, SIZES.large, users, 306);
  await service.store.close();
  recordRss(`c. search at ${n(SIZES.large)} (${USERS} users)`);
  await rm(dataDir, { recursive: true, force: true });
}

async function suppliedOneUser(embedder: Embedder): Promise<void> {
  const dataDir = await tempDir('sqlite-one');
  let service = await openPhase('sqlite', dataDir, embedder);
  const store = 'sqlite (1 user)';
  let { seconds } = await bulkLoad(service, `b. sqlite 1 user 0→${SIZES.small}`, SIZES.small, ['solo'], 404);
  ingestRows.push({
    what: `addMany, vectors supplied, 0→${n(SIZES.small)}, new db`,
    store,
    vectors: '512-d given',
    n: SIZES.small,
    batch: String(BATCH),
    seconds,
    rate: SIZES.small / seconds,
    disk: await diskBytes(dataDir),
  });
  service = await restart(service, dataDir, embedder);
  const more = SIZES.large - SIZES.small;
  ({ seconds } = await bulkLoad(service, `b. sqlite 1 user ${SIZES.small}→${SIZES.large}`, more, ['solo'], 405));
  ingestRows.push({
    what: `addMany, vectors supplied, ${n(SIZES.small)}→${n(SIZES.large)}, after restart`,
    store,
    vectors: '512-d given',
    n: more,
    batch: String(BATCH),
    seconds,
    rate: more / seconds,
    disk: await diskBytes(dataDir),
  });
  recordRss(`b. sqlite load ${n(SIZES.large)} (1 user)`);
  service = await restart(service, dataDir, embedder);
  await searchLatency(service, `${n(SIZES.large)}/1 user`, SIZES.large, ['solo'], 406);
  await service.store.close();
  recordRss(`c. search at ${n(SIZES.large)} (1 user)`);
  await rm(dataDir, { recursive: true, force: true });
}

interface HttpResult {
  memories: number;
  seconds: number;
  idle: Summary;
  during: Summary;
  failures: number;
  loopDelay: { p50: number; p99: number; max: number };
}

async function startProbe(url: string): Promise<{ stop(): Promise<ProbeResult> }> {
  const worker = new Worker(new URL('./health-probe.js', import.meta.url), {
    workerData: { url, intervalMs: HEALTH_INTERVAL_MS },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: () =>
      new Promise<ProbeResult>((resolve, reject) => {
        worker.once('message', (result: ProbeResult) => {
          void worker.terminate();
          resolve(result);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

async function httpImport(): Promise<HttpResult> {
  const dataDir = await tempDir('http');
  const config = loadConfig({
    overrides: {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      sqlite: { path: join(dataDir, 'engram.db') },
      auth: { mode: 'none' },
      limits: { rateLimitPerMinute: 0 },
    },
  });
  log('e. starting a server (loading the embedder) …');
  const service = await openService(config);
  const server = await startServer(config, service, createLogger('silent'));
  try {
    // Baseline: /health on an idle server for ~2 s.
    let probe = await startProbe(server.url);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = await probe.stop();

    const texts = memoryTexts(SIZES.http, 505);
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += BATCH) batches.push(texts.slice(i, i + BATCH));
    const bar = progressBar('e. HTTP import', texts.length);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    probe = await startProbe(server.url);
    loop.enable();
    const started = performance.now();
    let next = 0;
    // Two importers, as two clients (users) would.
    await Promise.all(
      [0, 1].map(async (client) => {
        while (next < batches.length) {
          const batch = batches[next++] as string[];
          const response = await fetch(`${server.url}/v1/memories`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-user-id': `http-${client}` },
            body: JSON.stringify({ memories: batch.map((content) => ({ content })) }),
          });
          const body = await response.text();
          if (response.status !== 201) throw new Error(`POST /v1/memories: ${response.status} ${body.slice(0, 300)}`);
          bar.increment(batch.length);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    loop.disable();
    const during = await probe.stop();
    bar.stop();
    const ms = (ns: number) => ns / 1e6;
    return {
      memories: texts.length,
      seconds,
      idle: summarize(idle.latencies),
      during: summarize(during.latencies),
      failures: during.failures + idle.failures,
      loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
    };
  } finally {
    await server.close();
    recordRss('e. HTTP import');
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const began = performance.now();
  const base = configFor(tmpdir());
  log(`Engram bench, BENCH_SCALE=${SCALE}: ${JSON.stringify(SIZES)}`);
  recordRss('start');

  const embedder = createEmbedder('use', base.embed, { cacheSize: 0 });
  log('loading the USE embedder …');
  await embedder.init();
  recordRss('embedder loaded');

  let http: HttpResult | null = null;
  try {
    await ingestWithEmbedder(embedder);
    await ingestJson(embedder);
    await supplied100Users(embedder);
    await suppliedOneUser(embedder);
    await embedder.close();
    http = await httpImport();
  } finally {
    await embedder.close();
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  }
  if (!globalThis.gc) notes.push('run with --expose-gc (as `npm run bench` does) for RSS after a full GC.');
  const minutes = (performance.now() - began) / 60_000;

  const out: string[] = [];
  out.push(`# Engram benchmark (BENCH_SCALE=${SCALE})`, '', machineTable(), '');
  out.push(
    markdownTable(
      ['settings', ''],
      [
        ['embedder', `${embedder.model}, ${base.embed.threads} worker thread(s), cache off`],
        ['sqlite', `synchronous=${base.sqlite.synchronous}, WAL`],
        [
          'search',
          `limit 10, candidates ${base.search.candidates}, RRF k=${base.search.rrfK}, weights keyword ${base.search.keywordWeight} / vector ${base.search.vectorWeight}`,
        ],
        [
          'sizes',
          Object.entries(SIZES)
            .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
            .join(', '),
        ],
        ['total time', `${minutes.toFixed(1)} min`],
      ],
    ),
    '',
  );
  out.push('## Ingest', '');
  out.push(
    markdownTable(
      ['what', 'store', 'vectors', 'memories', 'batch', 'seconds', 'memories/s', 'disk MB'],
      ingestRows.map((r) => [
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
  );
  out.push('## Search latency (ms)', '');
  out.push(
    markdownTable(
      [
        'memories / users',
        'mode',
        'queries',
        'embed p50',
        'embed p95',
        'embed p99',
        'total p50',
        'total p95',
        'total p99',
        'total max',
        'excl. embed p50',
        'excl. embed p95',
      ],
      searchRows.map((r) => [
        r.config,
        r.mode,
        r.n,
        r.embed.p50.toFixed(2),
        r.embed.p95.toFixed(2),
        r.embed.p99.toFixed(2),
        r.total.p50.toFixed(2),
        r.total.p95.toFixed(2),
        r.total.p99.toFixed(2),
        r.total.max.toFixed(2),
        r.store.p50.toFixed(2),
        r.store.p95.toFixed(2),
      ]),
    ),
    '',
    '_total = MemoryService.search timings.totalMs (end to end, including embedding the query); embed = timings.embedMs (0 in keyword mode); ' +
      'queries go to a random user of the configuration, 5 warm-up queries per row not counted; the store was restarted after loading; ' +
      'stored vectors are random unit vectors, so vector ranks are meaningless but the scan cost is real._',
    '',
  );
  out.push('## Memory (after each phase)', '');
  out.push(
    markdownTable(
      ['phase', 'RSS MB', 'heap used MB', 'external+buffers MB'],
      rssRows.map((r) => r.map((c) => (typeof c === 'number' ? c.toFixed(0) : c))),
    ),
    '',
  );
  if (http) {
    const pass = http.during.p99 < HEALTH_TARGET_P99_MS;
    out.push('## Event loop during an HTTP import', '');
    out.push(
      markdownTable(
        ['metric', 'value'],
        [
          [
            'import',
            `${http.memories.toLocaleString('en-US')} memories, POST /v1/memories batches of ${BATCH}, 2 clients, real USE embedding`,
          ],
          ['import rate', `${(http.memories / http.seconds).toFixed(1)} memories/s (${http.seconds.toFixed(1)} s)`],
          [
            '/health idle p50 / p99 / max',
            `${http.idle.p50.toFixed(2)} / ${http.idle.p99.toFixed(2)} / ${http.idle.max.toFixed(2)} ms (${http.idle.n} probes)`,
          ],
          [
            '/health during import p50 / p99 / max',
            `${http.during.p50.toFixed(2)} / ${http.during.p99.toFixed(2)} / ${http.during.max.toFixed(2)} ms (${http.during.n} probes, every ~${HEALTH_INTERVAL_MS} ms)`,
          ],
          ['probe failures', String(http.failures)],
          [
            'server event-loop delay p50 / p99 / max',
            `${http.loopDelay.p50.toFixed(2)} / ${http.loopDelay.p99.toFixed(2)} / ${http.loopDelay.max.toFixed(2)} ms`,
          ],
          [`target: /health p99 < ${HEALTH_TARGET_P99_MS} ms`, pass ? '**pass**' : '**FAIL**'],
        ],
      ),
      '',
      '_The prober runs in a worker thread with its own event loop; the server (and the importing clients) share the main thread._',
      '',
    );
  }
  for (const note of notes) out.push(`_${note}_`, '');
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
