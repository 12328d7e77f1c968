import { z } from 'zod';
import { parseInput } from '../../core/schemas.js';

/** Settings of the `json` store: human-readable files under `<dataDir>/memory/`. */
export const jsonStoreConfigSchema = z.strictObject({
  /** Root data directory; the store keeps its files in `<dataDir>/memory/`. */
  dataDir: z.string().min(1, 'dataDir must not be empty'),
  /** How long a write waits for another writer (this or another process) before failing with `store_locked`. */
  lockTimeoutMs: z.number().int().min(50).max(600_000).default(10_000),
  /** A lock not refreshed for this long is considered abandoned by a crashed process (proper-lockfile, min 2000). */
  lockStaleMs: z.number().int().min(2_000).max(600_000).default(10_000),
  /** Indent the JSON files so people can read them; turn off to save space on large users. */
  pretty: z.boolean().default(true),
});

export type JsonStoreOptions = z.input<typeof jsonStoreConfigSchema>;
export type JsonStoreConfig = Readonly<z.output<typeof jsonStoreConfigSchema>>;

/** Parses once and freezes; a bad setting fails fast with an `invalid_request` error naming the field. */
export function parseJsonStoreConfig(options: JsonStoreOptions): JsonStoreConfig {
  return Object.freeze(parseInput(jsonStoreConfigSchema, options));
}
