export { LATEST_VERSION, migrate } from './migrations.js';
export { type SqliteConfig, sqliteConfigSchema } from './sqlite-config.js';
export { SqliteStore } from './sqlite-store.js';

import { join } from 'node:path';
import type { MemoryStore } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

export function createSqliteStore(options: {
  dataDir: string;
  path?: string | undefined;
  synchronous?: 'full' | 'normal';
  readers?: number | undefined;
}): MemoryStore {
  return new SqliteStore({
    path: options.path ?? join(options.dataDir, 'engram.db'),
    ...(options.synchronous && { synchronous: options.synchronous }),
    ...(options.readers !== undefined && { readers: options.readers }),
  });
}
