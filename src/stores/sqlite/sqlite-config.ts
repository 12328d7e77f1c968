import { z } from 'zod';

/** How long a write waits for another process's lock by default (`ENGRAM_SQLITE_BUSY_TIMEOUT_MS`). */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export const sqliteConfigSchema = z.object({
  /** Database file; defaults to `<dataDir>/engram.db`. */
  path: z.string().min(1),
  /**
   * `full` fsyncs every commit so an acknowledged write survives power loss; `normal` survives
   * process crashes only, and is faster for many small writes.
   */
  synchronous: z.enum(['full', 'normal']).default('full'),
  /** How long a writer waits for another process's write lock before failing. */
  busyTimeoutMs: z.number().int().min(0).default(SQLITE_BUSY_TIMEOUT_MS),
  /**
   * How long one statement may wait for the lock synchronously (blocking the event loop); by
   * default the whole busy timeout. `createSqliteStore` sets it to a few ms and waits out the rest
   * asynchronously (sqlite-errors.ts).
   */
  blockingBusyMs: z.number().int().min(0).optional(),
  /**
   * Reader threads for vector and full-text scans, so that a large user's search never stops the
   * event loop (sqlite-readers.ts); 0 runs them on the main thread.
   */
  readers: z.number().int().min(0).max(64).default(2),
  /**
   * Inserts (the bulk writes: batch adds, notes, imports) run on a writer thread with its own
   * connection, so their SQLite work and commits never stop the event loop (sqlite-writer.ts);
   * false runs them on the main connection.
   */
  writer: z.boolean().default(true),
});

export type SqliteConfig = z.input<typeof sqliteConfigSchema>;
