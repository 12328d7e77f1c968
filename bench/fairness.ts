/**
 * `npm run bench:fairness`: one user cannot starve the others (issue 23), measured on a real
 * `engram serve` process (default store and embedder) driven over HTTP and MCP from this process.
 *
 *   1. Bob's hybrid search latency while idle, then while Alice floods the server: knowledge-base
 *      notes of many sections, batch adds, and MCP tool calls sent many at a time. Every Bob query is
 *      new text (no cache hit). Target: Bob's p99 during the flood within 2× of his idle p99.
 *   2. `/health` latency (probed from a worker thread) while eight searches run at once on a user
 *      with a large store (vector and keyword scans). Target: p99 under 50 ms.
 *
 * Sizes: FAIRNESS_QUERIES (default 200), FAIRNESS_HEAVY (memories of the large user, default 50,000;
 * 0 runs part 1 only).
 * BENCH_SERVER_NODE_ARGS passes options to the server's node (e.g. `--cpu-prof`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { KeyStore } from '../src/auth/key-store.js';
import type { FloodCounts } from './flood-worker.js';
import { memoryTexts, prng, queryTexts, unitVector } from './gen.js';
import type { ProbeResult } from './health-probe.js';
import { postJson as post } from './http-client.js';
import { fmt, log, machineTable, markdownTable } from './report.js';
import { startServerProcess } from './server-process.js';
import { type Summary, summarize } from './stats.js';

const QUERIES = Number(process.env.FAIRNESS_QUERIES ?? 200);
const HEAVY = Number(process.env.FAIRNESS_HEAVY ?? 50_000);

interface SearchRun {
  /** Client-side latency per request. */
  latencies: number[];
  /** The server's own figures: query embedding, and everything from arrival to answer. */
  embedMs: number[];
  serverMs: number[];
}

/** Bob's searches, one after another, each a query never sent before. */
async function searches(url: string, key: string, count: number, seed: number): Promise<SearchRun> {
  const queries = queryTexts(count, seed);
  const run: SearchRun = { latencies: [], embedMs: [], serverMs: [] };
  for (const [i, query] of queries.entries()) {
    const started = performance.now();
    const body = (await post(url, key, '/v1/search', { query: `${query} (${seed}-${i})`, limit: 10 })) as {
      timings: { embedMs: number; totalMs: number };
    };
    run.latencies.push(performance.now() - started);
    run.embedMs.push(body.timings.embedMs);
    run.serverMs.push(body.timings.totalMs);
  }
  return run;
}

interface Flood {
  stop(): Promise<FloodCounts>;
}

/**
 * Alice floods from a worker thread of her own: her traffic (notes of 400 sections, batch adds,
 * MCP calls) keeps an event loop busy, and Bob's latencies, taken on this one, must not include it.
 */
async function flood(url: string, key: string): Promise<Flood> {
  const worker = new Worker(new URL('./flood-worker.js', import.meta.url), { workerData: { url, key } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: () =>
      new Promise<FloodCounts>((resolve, reject) => {
        worker.once('message', (counts: FloodCounts) => {
          void worker.terminate();
          resolve(counts);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

async function probe(url: string): Promise<{ stop(): Promise<ProbeResult> }> {
  const worker = new Worker(new URL('./health-probe.js', import.meta.url), { workerData: { url, intervalMs: 20 } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: () =>
      new Promise<ProbeResult>((resolve) => {
        worker.once('message', (result: ProbeResult) => {
          void worker.terminate();
          resolve(result);
        });
        worker.postMessage('stop');
      }),
  };
}

/** Loads `count` memories with supplied 512-d vectors into one user, in batches of 500. */
async function loadHeavy(url: string, key: string, count: number): Promise<number> {
  const texts = memoryTexts(count, 99);
  const random = prng(99);
  const started = performance.now();
  for (let i = 0; i < count; i += 500) {
    const memories = texts
      .slice(i, i + 500)
      .map((content) => ({ content, embedding: unitVector(random, 512), infer: false }));
    await post(url, key, '/v1/memories', { memories });
    if (i % 10_000 === 0) log(`  heavy user: ${fmt(i)} / ${fmt(count)}`);
  }
  return (performance.now() - started) / 1000;
}

const row = (label: string, s: Summary) => [
  label,
  fmt(s.n),
  s.p50.toFixed(1),
  s.p95.toFixed(1),
  s.p99.toFixed(1),
  s.max.toFixed(1),
];

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-fairness-'));
  const keys = new KeyStore(dataDir);
  const alice = (await keys.create({ userId: 'alice' })).key;
  const bob = (await keys.create({ userId: 'bob' })).key;
  const heavy = (await keys.create({ userId: 'heavy' })).key;
  log('starting engram serve (default store and embedder) …');
  const server = await startServerProcess(dataDir);
  try {
    await post(server.url, bob, '/v1/memories', {
      memories: memoryTexts(300, 5).map((content) => ({ content })),
    });
    await searches(server.url, bob, 20, 1); // warm-up
    log(`1. Bob idle: ${QUERIES} searches …`);
    const idleRun = await searches(server.url, bob, QUERIES, 2);
    const idle = summarize(idleRun.latencies);
    log('1. Bob during Alice’s flood …');
    const flooding = await flood(server.url, alice);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // let the flood fill the queue
    const duringRun = await searches(server.url, bob, QUERIES, 3);
    const during = summarize(duringRun.latencies);
    const done = await flooding.stop();

    const ratio = during.p99 / idle.p99;
    const first = [
      '# Fairness between users (`npm run bench:fairness`)',
      '',
      machineTable(),
      '',
      '## 1. Another user’s search while one user floods',
      '',
      `Alice, during Bob's searches: ${fmt(done.notes)} notes (${fmt(done.sections)} sections), ` +
        `${fmt(done.adds)} batch adds, ${fmt(done.mcpCalls)} MCP store_memory calls (20 at a time).`,
      '',
      markdownTable(
        ['Bob, hybrid search (ms)', 'n', 'p50', 'p95', 'p99', 'max'],
        [
          row('idle', idle),
          row('during the flood', during),
          row('… its query embedding, idle', summarize(idleRun.embedMs)),
          row('… its query embedding, flood', summarize(duringRun.embedMs)),
          row('… server time (timings.totalMs), idle', summarize(idleRun.serverMs)),
          row('… server time (timings.totalMs), flood', summarize(duringRun.serverMs)),
        ],
      ),
      '',
      `p99 during / idle: **${ratio.toFixed(2)}×** (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'})`,
    ];
    process.stdout.write(`${first.join('\n')}\n`);
    if (HEAVY <= 0) return; // FAIRNESS_HEAVY=0: part 1 only

    log(`2. loading ${fmt(HEAVY)} memories into one user …`);
    const loadSeconds = await loadHeavy(server.url, heavy, HEAVY);
    let health = await probe(server.url);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const healthIdle = summarize((await health.stop()).latencies);
    health = await probe(server.url);
    const heavyLatencies: number[] = [];
    const until = performance.now() + 15_000;
    const queries = queryTexts(400, 11);
    let q = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          const started = performance.now();
          await post(server.url, heavy, '/v1/search', { query: `${queries[q++ % queries.length]} ${q}`, limit: 10 });
          heavyLatencies.push(performance.now() - started);
        }
      }),
    );
    const healthResult = await health.stop();
    const healthBusy = summarize(healthResult.latencies);
    const heavySearch = summarize(heavyLatencies);

    const out = [
      '',
      `## 2. /health while eight searches run on a user with ${fmt(HEAVY)} memories`,
      '',
      `Loaded in ${loadSeconds.toFixed(0)} s (vectors supplied).`,
      '',
      markdownTable(
        ['ms', 'n', 'p50', 'p95', 'p99', 'max'],
        [
          row('/health, idle', healthIdle),
          row('/health, 8 heavy searches', healthBusy),
          row('the heavy searches', heavySearch),
        ],
      ),
      '',
      `/health p99 under load: **${healthBusy.p99.toFixed(1)} ms** (target < 50 ms: ${healthBusy.p99 < 50 ? 'met' : 'NOT met'}); ` +
        `probe failures ${healthResult.failures}.`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
