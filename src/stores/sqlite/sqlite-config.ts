import type Database from 'better-sqlite3';
import { z } from 'zod';

/** How long a write waits for another process's lock by default (`ENGRAM_SQLITE_BUSY_TIMEOUT_MS`). */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** Reader threads by default (`ENGRAM_SQLITE_READERS`). */
export const SQLITE_READERS = 2;

/**
 * Page cache of each connection by default, in MiB (`ENGRAM_SQLITE_CACHE_MB`). SQLite's own default
 * is 2 MiB: past a few hundred thousand memories in one user, the full-text index's merges and the
 * content-hash index no longer fit, and every commit reread their pages (bench:growth, BENCHMARKS.md).
 */
export const SQLITE_CACHE_MB = 64;

/**
 * How much of the database file each reader thread reads through memory mapping by default, in
 * MiB (`ENGRAM_SQLITE_MMAP_MB`): SQLite's build limit (SQLITE_MAX_MMAP_SIZE, 0x7fff0000 bytes), so
 * a store of up to 2 GiB is scanned straight from the operating system's page cache, shared by
 * the readers, with no system call and copy per page. Without it, a scan of a user larger than a
 * connection's page cache (tens of thousands of memories) reads page by page, about four times
 * slower per memory (BENCHMARKS.md). Only the readers map: on the writer, the file grows with
 * every commit and SQLite remaps it, which cost ingest about 30 % (measured).
 */
export const SQLITE_MMAP_MB = 2_047;

/**
 * From how many memories a user's vector search uses an approximate index (ann/) by default
 * (`ENGRAM_SQLITE_ANN_MIN_MEMORIES`; 0 = never). Below it, the exact scan takes a few tens of ms
 * at most (BENCHMARKS.md, "Approximate index"); above it, its cost grows with the user.
 */
export const SQLITE_ANN_MIN_MEMORIES = 20_000;

/** What a connection of a store is tuned with; `mmapMb` is 0 except on the reader threads. */
export interface ConnectionTuning {
  cacheMb: number;
  mmapMb: number;
}

/** Sizes a connection's page cache (negative: KiB, not pages) and its memory-mapped window. */
export function tuneConnection(db: Database.Database, tuning: ConnectionTuning): void {
  db.pragma(`cache_size = ${-Math.round(tuning.cacheMb * 1024)}`);
  db.pragma(`mmap_size = ${tuning.mmapMb * 2 ** 20}`);
}

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
  readers: z.number().int().min(0).max(64).default(SQLITE_READERS),
  /** Page cache of each connection (main, writer, readers), in MiB; allocated as it fills. */
  cacheMb: z.number().int().min(1).max(65_536).default(SQLITE_CACHE_MB),
  /** How much of the file each reader thread reads memory-mapped, in MiB; 0 reads every page with a system call. */
  mmapMb: z.number().int().min(0).max(SQLITE_MMAP_MB).default(SQLITE_MMAP_MB),
  /**
   * Inserts (the bulk writes: batch adds, notes, imports) run on a writer thread with its own
   * connection, so their SQLite work and commits never stop the event loop (sqlite-writer.ts);
   * false runs them on the main connection.
   */
  writer: z.boolean().default(true),
  /** Users with at least this many memories search through an approximate index (ann/); 0 = never. */
  annMinMemories: z.number().int().min(0).default(SQLITE_ANN_MIN_MEMORIES),
  /** Threads an index build inserts with (the builder thread's own, beside the readers). */
  annThreads: z.number().int().min(1).max(64).default(1),
  /**
   * How reader threads hold an index: `map` (the file memory-mapped, pages shared through the
   * operating system's cache) or `load` (a copy in each reader thread's memory, for up to 2
   * users each, ann/ann-search.ts: searches never wait on the disk, at the index's size per thread).
   */
  annMemory: z.enum(['map', 'load']).default('map'),
});

export type SqliteConfig = z.input<typeof sqliteConfigSchema>;
