import { z } from 'zod';
import { backend, build, type OptionsInput } from '../util/registry.js';
import { createJsonStore } from './json/index.js';
import { createPostgresStore, postgresConfigSchema } from './postgres/index.js';
import {
  createSqliteStore,
  SQLITE_ANN_MIN_MEMORIES,
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_MB,
  SQLITE_MMAP_MB,
  SQLITE_READERS,
} from './sqlite/index.js';
import type { MemoryStore } from './store.js';

const dataDir = z.string().min(1, 'a data directory is required');

/**
 * Every store Engram can run on, each with the options it takes (settings the config fills, see
 * src/backends.ts) and how it is built; the config enum is derived from these keys.
 */
export const stores = {
  sqlite: backend(
    z.strictObject({
      dataDir,
      /** Default: `<dataDir>/engram.db`. */
      path: z.string().min(1).optional(),
      synchronous: z.enum(['full', 'normal']).default('full'),
      readers: z.number().int().min(0).max(64).default(SQLITE_READERS),
      busyTimeoutMs: z.number().int().min(0).max(600_000).default(SQLITE_BUSY_TIMEOUT_MS),
      cacheMb: z.number().int().min(1).max(65_536).default(SQLITE_CACHE_MB),
      mmapMb: z.number().int().min(0).max(SQLITE_MMAP_MB).default(SQLITE_MMAP_MB),
      annMinMemories: z.number().int().min(0).default(SQLITE_ANN_MIN_MEMORIES),
      annThreads: z.number().int().min(1).max(64).default(1),
      annMemory: z.enum(['map', 'load']).default('map'),
    }),
    (options): MemoryStore => createSqliteStore(options),
  ),
  json: backend(z.strictObject({ dataDir }), (options): MemoryStore => createJsonStore(options)),
  postgres: backend(
    postgresConfigSchema.extend({ url: z.string({ error: 'a database URL is required' }).min(1) }),
    (options): MemoryStore => createPostgresStore(options),
  ),
} as const;

export type StoreName = keyof typeof stores;
export const STORE_NAMES = Object.keys(stores) as [StoreName, ...StoreName[]];

/** What the named store takes (defaults optional). */
export type StoreOptions<N extends StoreName> = OptionsInput<typeof stores, N>;

/** Validates the options against the named store's schema and builds it (not yet initialised). */
export function createStore<N extends StoreName>(name: N, options: StoreOptions<N>): MemoryStore {
  return build<MemoryStore, typeof stores, N>(stores, 'store', name, options);
}
