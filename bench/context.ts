/**
 * What the phases of `npm run bench` share: the sizes (BENCH_SCALE), constants, a temporary-store
 * setup, and the `Bench` that collects the report rows and RSS readings as the phases run.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { storeOptions } from '../src/backends.js';
import { type Config, loadConfig } from '../src/config.js';
import { type Actor, MemoryService } from '../src/core/memory-service.js';
import type { Embedder } from '../src/embed/embedder.js';
import { searchOptions } from '../src/runtime.js';
import { createStore, type StoreName } from '../src/stores/registry.js';
import type { MemoryStore } from '../src/stores/store.js';
import { type Cell, log, mb } from './report.js';
import type { Summary } from './stats.js';

export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 10)) throw new Error(`BENCH_SCALE must be within (0, 10], got ${process.env.BENCH_SCALE}`);
const sized = (base: number, min: number) => Math.max(min, Math.round(base * SCALE));

export const SIZES = {
  useBatch: sized(3_000, 100),
  useSingle: sized(300, 20),
  json: sized(2_000, 100),
  small: sized(10_000, 1_000),
  large: sized(100_000, 2_000),
  queries: sized(300, 30),
  http: sized(3_000, 200),
};
/** Queries per search row that warm caches and statements up and are not counted. */
export const WARM_UP = 5;
/** Memories per addMany call / POST. */
export const BATCH = 100;
/** Dimension of the supplied random vectors (USE's). */
export const DIM = 512;
export const ACTOR: Actor = { name: 'bench', source: 'import' };

// ---------------------------------------------------------------------------------------------
// Report rows

export interface IngestRow {
  what: string;
  store: string;
  vectors: string;
  n: number;
  batch: string;
  seconds: number;
  rate: number;
  /** Size of the data dir after the step, bytes; null: not measured. */
  disk: number | null;
}

export interface RecallRow {
  config: string;
  queries: number;
  /** Mean share of the exact top 10 the HNSW search returned. */
  recall: number;
  /** Lowest single-query recall. */
  worst: number;
  hnsw: Summary;
  exact: Summary;
}

export interface SearchRow {
  config: string;
  memories: number;
  users: number;
  mode: string;
  n: number;
  embed: Summary;
  total: Summary;
  store: Summary;
}

/** One benchmark run: the rows for the report, and the temporary dirs to remove at the end. */
export class Bench {
  readonly ingestRows: IngestRow[] = [];
  readonly searchRows: SearchRow[] = [];
  readonly recallRows: RecallRow[] = [];
  readonly rssRows: Cell[][] = [];
  readonly notes: string[] = [];
  private readonly tempDirs: string[] = [];

  async tempDir(label: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `engram-bench-${label}-`));
    this.tempDirs.push(dir);
    return dir;
  }

  async removeTempDirs(): Promise<void> {
    for (const dir of this.tempDirs) await rm(dir, { recursive: true, force: true });
  }

  /** Reads RSS (after a full GC when run with --expose-gc) into the memory table. */
  recordRss(phase: string): void {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    this.rssRows.push([phase, mb(usage.rss), mb(usage.heapUsed), mb(usage.external + usage.arrayBuffers)]);
    log(`  RSS after ${phase}: ${mb(usage.rss).toFixed(0)} MB`);
  }
}

// ---------------------------------------------------------------------------------------------
// Stores

export function configFor(dataDir: string, extra: Record<string, unknown> = {}): Config {
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

export async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await diskBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/**
 * Which stores the supplied-vector loads and search scenarios run on. Default sqlite; `npm run
 * bench -- --store postgres` runs them on sqlite and then on PostgreSQL, so the report compares
 * the two from one run (needs ENGRAM_POSTGRES_URL or ENGRAM_TEST_POSTGRES_URL; each scenario gets
 * its own schema, dropped afterwards), and adds HNSW recall against exact search.
 */
export const BENCH_STORES: ('sqlite' | 'postgres')[] = (() => {
  const { values } = parseArgs({ options: { store: { type: 'string' } }, strict: false });
  const store = values.store ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got ${store}`);
  return store === 'postgres' ? ['sqlite', 'postgres'] : ['sqlite'];
})();

const postgresUrl = (): string => {
  const url = process.env.ENGRAM_POSTGRES_URL ?? process.env.ENGRAM_TEST_POSTGRES_URL;
  if (!url) throw new Error('--store postgres needs ENGRAM_POSTGRES_URL (e.g. from scripts/services.sh start)');
  return url;
};

/** The schema a postgres phase uses for `dataDir` (one per temporary directory). */
const schemaFor = (dataDir: string): string =>
  `bench_${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`;

/** Deletes what a phase stored outside its directory (the postgres schema). */
export async function dropPhase(store: StoreName, dataDir: string): Promise<void> {
  if (store !== 'postgres') return;
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schemaFor(dataDir)} CASCADE`);
  } finally {
    await client.end();
  }
}

function phaseConfig(store: StoreName, dataDir: string, postgres: Record<string, unknown> = {}): Config {
  return configFor(dataDir, {
    store,
    ...(store === 'postgres' && { postgres: { url: postgresUrl(), schema: schemaFor(dataDir), ...postgres } }),
  });
}

/** Another postgres store over `dataDir`'s schema, with `postgres` settings of its own (e.g. `efSearch`). */
export async function openPostgresStore(dataDir: string, postgres: Record<string, unknown>): Promise<MemoryStore> {
  const config = phaseConfig('postgres', dataDir, postgres);
  const store = createStore('postgres', storeOptions(config, 'postgres'));
  await store.init();
  return store;
}

/** The postgres phase's store over `dataDir`'s schema with exact vector search (HNSW off): the recall reference. */
export function openExactPostgres(dataDir: string): Promise<MemoryStore> {
  return openPostgresStore(dataDir, { hnsw: false });
}

/** A service over a fresh store in `dataDir`, sharing the one embedder (closing only the store). */
export async function openPhase(store: StoreName, dataDir: string, embedder: Embedder): Promise<MemoryService> {
  const config = phaseConfig(store, dataDir);
  const service = new MemoryService({
    store: createStore(store, storeOptions(config, store)),
    embedder,
    search: searchOptions(config),
  });
  await service.init();
  return service;
}

/**
 * Closes and reopens the store, as a server restart would. Closing runs `PRAGMA optimize`, which
 * gives SQLite's planner table statistics; a database that was never closed has none (see notes).
 */
export async function restart(service: MemoryService, dataDir: string, embedder: Embedder): Promise<MemoryService> {
  await service.store.close();
  return openPhase(service.store.name as StoreName, dataDir, embedder);
}
