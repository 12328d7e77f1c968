export { LATEST_VERSION, migrate } from './migrations.js';
export {
  SQLITE_ANN_MIN_MEMORIES,
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_MB,
  SQLITE_MMAP_MB,
  SQLITE_READERS,
  type SqliteConfig,
  sqliteConfigSchema,
} from './sqlite-config.js';
export { SqliteStore } from './sqlite-store.js';

import { join } from 'node:path';
import type { MemoryStore } from '../store.js';
import { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-config.js';
import { withSqliteErrors } from './sqlite-errors.js';
import { SqliteStore } from './sqlite-store.js';

/**
 * The SQLite store as the server and CLI use it: waits for another process's write lock without
 * blocking the event loop (up to `busyTimeoutMs`, 5 s by default, in short synchronous slices), and
 * answers a locked, full or damaged database with `unavailable` (503 + Retry-After) like the other
 * stores (sqlite-errors.ts).
 */
export function createSqliteStore(options: {
  dataDir: string;
  path?: string | undefined;
  synchronous?: 'full' | 'normal';
  readers?: number | undefined;
  busyTimeoutMs?: number | undefined;
  cacheMb?: number | undefined;
  mmapMb?: number | undefined;
  annMinMemories?: number | undefined;
  annThreads?: number | undefined;
  annMemory?: 'map' | 'load' | undefined;
}): MemoryStore {
  const busyTimeoutMs = options.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS;
  const store = new SqliteStore({
    path: options.path ?? join(options.dataDir, 'engram.db'),
    ...(options.synchronous && { synchronous: options.synchronous }),
    ...(options.readers !== undefined && { readers: options.readers }),
    ...(options.cacheMb !== undefined && { cacheMb: options.cacheMb }),
    ...(options.mmapMb !== undefined && { mmapMb: options.mmapMb }),
    ...(options.annMinMemories !== undefined && { annMinMemories: options.annMinMemories }),
    ...(options.annThreads !== undefined && { annThreads: options.annThreads }),
    ...(options.annMemory !== undefined && { annMemory: options.annMemory }),
    busyTimeoutMs,
    blockingBusyMs: Math.min(10, busyTimeoutMs),
  });
  return withSqliteErrors(store, busyTimeoutMs);
}
