import { createJsonStore } from './json/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { MemoryStore } from './store.js';

export interface StoreOptions {
  dataDir: string;
  sqlite: { path?: string | undefined; synchronous: 'full' | 'normal' };
}

/** Every store Engram can run on; the config enum is derived from these keys. */
export const stores = {
  sqlite: (options: StoreOptions): MemoryStore => createSqliteStore({ dataDir: options.dataDir, ...options.sqlite }),
  json: (options: StoreOptions): MemoryStore => createJsonStore({ dataDir: options.dataDir }),
} as const;

export type StoreName = keyof typeof stores;
export const STORE_NAMES = Object.keys(stores) as [StoreName, ...StoreName[]];

export function createStore(name: StoreName, options: StoreOptions): MemoryStore {
  return stores[name](options);
}
