import { EngramError } from '../core/errors.js';
import { createJsonStore } from './json/index.js';
import { createPostgresStore, type PostgresConfig } from './postgres/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { MemoryStore } from './store.js';

export interface StoreOptions {
  dataDir: string;
  sqlite: { path?: string | undefined; synchronous: 'full' | 'normal'; readers?: number };
  postgres?: Omit<PostgresConfig, 'url'> & { url?: string | undefined };
}

/** Every store Engram can run on; the config enum is derived from these keys. */
export const stores = {
  sqlite: (options: StoreOptions): MemoryStore => createSqliteStore({ dataDir: options.dataDir, ...options.sqlite }),
  json: (options: StoreOptions): MemoryStore => createJsonStore({ dataDir: options.dataDir }),
  postgres: (options: StoreOptions): MemoryStore => {
    const { url, ...rest } = options.postgres ?? {};
    if (!url) throw new EngramError('invalid_request', 'the postgres store needs ENGRAM_POSTGRES_URL');
    return createPostgresStore({ url, ...rest });
  },
} as const;

export type StoreName = keyof typeof stores;
export const STORE_NAMES = Object.keys(stores) as [StoreName, ...StoreName[]];

export function createStore(name: StoreName, options: StoreOptions): MemoryStore {
  return stores[name](options);
}
