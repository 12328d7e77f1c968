/**
 * Bench section c: search latency p50/p95/p99 per mode at 10k and 100k memories (100 users) and
 * 100k in one user, query embedding (timings.embedMs) reported apart from end-to-end
 * (timings.totalMs). Each scenario loads a fresh sqlite store with supplied vectors (section b rows)
 * and restarts it before searching.
 */
import { rm } from 'node:fs/promises';
import type { MemoryService } from '../src/core/memory-service.js';
import type { Embedder } from '../src/embed/embedder.js';
import { type Bench, dropPhase, openPhase, restart, type SearchRow, SIZES, WARM_UP } from './context.js';
import { prng, queryTexts } from './gen.js';
import { hnswRecall } from './hnsw.js';
import { loadSupplied } from './ingest.js';
import { fmt, markdownTable, progressBar } from './report.js';
import { summarize } from './stats.js';

const USERS = 100;
const MODES = ['hybrid', 'keyword', 'vector'] as const;

/** Search latency per mode, queries to random users of `users`; one search row per mode. */
async function searchLatency(
  bench: Bench,
  service: MemoryService,
  config: string,
  memories: number,
  users: readonly string[],
  seed: number,
): Promise<void> {
  const rand = prng(seed);
  for (const mode of MODES) {
    const queries = queryTexts(SIZES.queries + WARM_UP, seed + mode.length);
    const bar = progressBar(`c. search ${config} ${mode}`, queries.length);
    const embeds: number[] = [];
    const totals: number[] = [];
    const storeMs: number[] = [];
    for (const [i, query] of queries.entries()) {
      const user = users[Math.floor(rand() * users.length)] as string;
      const { timings } = await service.search(user, { query, mode, limit: 10 });
      if (i >= WARM_UP) {
        embeds.push(timings.embedMs);
        totals.push(timings.totalMs);
        storeMs.push(timings.totalMs - timings.embedMs);
      }
      bar.increment();
    }
    bar.stop();
    bench.searchRows.push({
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

interface Stage {
  /** Memories in the store after this stage's load (which starts where the previous stage ended). */
  to: number;
  seed: number;
  /** RSS reading after the load, if any. */
  rss?: string;
  /** Search latency after the load (and a restart), then this RSS reading. */
  search?: { seed: number; rss: string };
}

interface Scenario {
  store: 'sqlite' | 'postgres';
  /** Temp dir label. */
  dir: string;
  users: readonly string[];
  /** "100 users", "1 user": in the store column and the search configuration. */
  usersLabel: string;
  /** Progress-bar label prefix of the loads. */
  loadLabel: string;
  stages: readonly Stage[];
}

/**
 * Runs the stages on one store. The store is restarted before a load or a search whenever
 * memories were loaded since it was opened, and closed after the last stage's search.
 */
async function runScenario(bench: Bench, embedder: Embedder, scenario: Scenario): Promise<void> {
  const dataDir = await bench.tempDir(scenario.dir);
  const { store } = scenario;
  let service = await openPhase(store, dataDir, embedder);
  let loadedSinceOpen = false;
  const restartIfLoaded = async () => {
    if (loadedSinceOpen) service = await restart(service, dataDir, embedder);
    loadedSinceOpen = false;
  };

  let from = 0;
  for (const [i, stage] of scenario.stages.entries()) {
    await restartIfLoaded();
    await loadSupplied(bench, service, dataDir, {
      label: `${scenario.loadLabel} ${from}→${stage.to}`,
      count: stage.to - from,
      users: scenario.users,
      seed: stage.seed,
      what: `addMany, vectors supplied, ${fmt(from)}→${fmt(stage.to)}, ${from === 0 ? 'new db' : 'after restart'}`,
      store: `${store} (${scenario.usersLabel})`,
      ...(store === 'postgres' && { disk: async () => (await service.store.stats()).bytes ?? 0 }),
    });
    loadedSinceOpen = true;
    from = stage.to;
    if (stage.rss !== undefined) bench.recordRss(stage.rss);
    if (stage.search) {
      await restartIfLoaded();
      const config = `${fmt(stage.to)}/${scenario.usersLabel} ${store}`;
      await searchLatency(bench, service, config, stage.to, scenario.users, stage.search.seed);
      if (store === 'postgres') {
        await hnswRecall(bench, service, dataDir, config, scenario.users, stage.search.seed + 1, 'clustered');
      }
    }
    if (i === scenario.stages.length - 1) await service.store.close();
    if (stage.search) bench.recordRss(stage.search.rss);
  }
  await rm(dataDir, { recursive: true, force: true });
  await dropPhase(store, dataDir);
}

/** b + c with 100 users: load to SIZES.small, search, load to SIZES.large, search. */
export function supplied100Users(bench: Bench, embedder: Embedder, store: 'sqlite' | 'postgres'): Promise<void> {
  const { small, large } = SIZES;
  return runScenario(bench, embedder, {
    store,
    dir: `${store}-users`,
    users: Array.from({ length: USERS }, (_, i) => `user-${String(i).padStart(3, '0')}`),
    usersLabel: `${USERS} users`,
    loadLabel: `b. ${store}`,
    stages: [
      {
        to: small,
        seed: 303,
        rss: `b. ${store} load ${fmt(small)}`,
        search: { seed: 304, rss: `c. search at ${fmt(small)}` },
      },
      {
        to: large,
        seed: 305,
        rss: `b. ${store} load ${fmt(large)}`,
        search: { seed: 306, rss: `c. search at ${fmt(large)} (${USERS} users)` },
      },
    ],
  });
}

/** b + c with all memories in one user: load to SIZES.small, to SIZES.large, search. */
export function suppliedOneUser(bench: Bench, embedder: Embedder, store: 'sqlite' | 'postgres'): Promise<void> {
  const { small, large } = SIZES;
  return runScenario(bench, embedder, {
    store,
    dir: `${store}-one`,
    users: ['solo'],
    usersLabel: '1 user',
    loadLabel: `b. ${store} 1 user`,
    stages: [
      { to: small, seed: 404 },
      {
        to: large,
        seed: 405,
        rss: `b. ${store} load ${fmt(large)} (1 user)`,
        search: { seed: 406, rss: `c. search at ${fmt(large)} (1 user)` },
      },
    ],
  });
}

/** The "Search latency" section of the report. */
export function searchSection(rows: readonly SearchRow[]): string[] {
  const ms = (value: number) => value.toFixed(2);
  return [
    '## Search latency (ms)',
    '',
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
      rows.map((r) => [
        r.config,
        r.mode,
        r.n,
        ms(r.embed.p50),
        ms(r.embed.p95),
        ms(r.embed.p99),
        ms(r.total.p50),
        ms(r.total.p95),
        ms(r.total.p99),
        ms(r.total.max),
        ms(r.store.p50),
        ms(r.store.p95),
      ]),
    ),
    '',
    '_total = MemoryService.search timings.totalMs (end to end, including embedding the query); embed = timings.embedMs (0 in keyword mode); ' +
      `queries go to a random user of the configuration, ${WARM_UP} warm-up queries per row not counted; the store was restarted after loading; ` +
      'stored vectors are synthetic (clustered around 1,000 random directions, gen.ts), so vector ranks say nothing about quality but the scan cost is real._',
    '',
  ];
}
