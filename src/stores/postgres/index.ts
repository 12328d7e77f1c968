export { type PostgresConfig, postgresConfigSchema } from './postgres-config.js';
export { LATEST_VERSION, migrate } from './postgres-migrations.js';
export { PostgresStore } from './postgres-store.js';

import type { MemoryStore } from '../store.js';
import type { PostgresConfig } from './postgres-config.js';
import { PostgresStore } from './postgres-store.js';

export function createPostgresStore(config: PostgresConfig): MemoryStore {
  return new PostgresStore(config);
}
