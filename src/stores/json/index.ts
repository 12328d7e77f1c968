import type { MemoryStore } from '../store.js';
import { type JsonStoreOptions, parseJsonStoreConfig } from './json-config.js';
import { JsonStore } from './json-store.js';

export {
  type JsonStoreConfig,
  type JsonStoreOptions,
  jsonStoreConfigSchema,
  parseJsonStoreConfig,
} from './json-config.js';
export { JsonStore } from './json-store.js';
export { CURRENT_FORMAT as JSON_STORE_FORMAT } from './migrations.js';

/** The `json` store: `<dataDir>/memory/user_<id>/memories.json`, one human-readable file per user. */
export function createJsonStore(options: JsonStoreOptions): MemoryStore {
  return new JsonStore(parseJsonStoreConfig(options));
}
