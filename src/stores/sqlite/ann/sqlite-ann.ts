/**
 * The approximate vector indexes of the SQLite store's large users, from the main thread: when a
 * search finds a user past `annMinMemories` without an index, or with one too far behind, a build
 * starts on the builder thread (ann-build.ts) and the search goes on exactly as before; once the
 * build's file is in place it is recorded here, in one transaction, only if the index it extended
 * is still the current one. Searches (ann-search.ts) use whatever is recorded.
 *
 * The index is derived data: a missing, short or unreadable file only costs speed (the search
 * scans exactly, and the next build replaces it), and it is not in backups — a restored store
 * builds its indexes again on first search.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { Piscina } from 'piscina';
import { workerModule } from '../../../util/worker.js';
import { whileBusy } from '../sqlite-errors.js';
import type { BuildResult, BuildTask } from './ann-build.js';
import type { BuilderData } from './ann-build-worker.js';
import { ANN_ROW_SQL, type AnnRow, annDir, BEHIND_MAX, usearchModule } from './ann-params.js';

/** A user's index is extended once this many of its rows are past it or changed… */
const BEHIND_MIN = 1_000;
/** …or this share of its size, whichever is more, up to BEHIND_MAX (searches scan those rows exactly). */
const BEHIND_SHARE = 0.02;
/** How often one user's index is checked, at most. */
const CHECK_EVERY_MS = 1_000;
/** A file no record refers to is removed once it is this old (another process may be writing it). */
const ORPHAN_AGE_MS = 10 * 60_000;
/** A replaced file is removed this long after, so a search that read the old record can still map it. */
const RETIRE_AFTER_MS = 30_000;

/** What the indexes need of the store's connections (sqlite-db.ts). */
export interface AnnHost {
  readonly config: { path: string; busyTimeoutMs: number; annMinMemories: number; annThreads: number };
  /** The main connection. */
  readonly conn: Database.Database;
  /** A cached prepared statement on the main connection. */
  prepare(sql: string): Database.Statement;
}

export class SqliteAnn {
  readonly #db: AnnHost;
  #pool: Piscina<BuildTask, BuildResult> | null = null;
  readonly #building = new Map<string, Promise<BuildResult | null>>();
  readonly #checked = new Map<string, number>();
  #swept = false;
  #closed = false;
  /** The last build's failure, if it failed (the searches scan exactly meanwhile). */
  lastError: Error | null = null;

  constructor(db: AnnHost) {
    this.#db = db;
  }

  get dir(): string {
    return annDir(this.#db.config.path);
  }

  /** Indexes are on (`annMinMemories` > 0) and usearch loads on this platform. */
  get enabled(): boolean {
    return this.#db.config.annMinMemories > 0 && usearchModule() !== null;
  }

  /** After a user's vector search: starts a build if the user needs one and none is running. */
  maybeBuild(userId: string): void {
    if (!this.enabled || this.#building.has(userId)) return;
    const now = Date.now();
    if ((this.#checked.get(userId) ?? 0) > now - CHECK_EVERY_MS) return;
    if (this.#checked.size > 10_000) this.#checked.clear();
    this.#checked.set(userId, now);
    try {
      if (!this.#needsBuild(userId)) return;
    } catch (error) {
      // Locked or closing: the search that called this has its answer; a later one checks again.
      this.lastError = error as Error;
      return;
    }
    void this.build(userId).catch((error: unknown) => {
      this.lastError = error as Error;
    });
  }

  /** Builds or extends the user's index now (or joins the build running); null if there was nothing to build. */
  build(userId: string): Promise<BuildResult | null> {
    const running = this.#building.get(userId);
    if (running) return running;
    const job = this.#build(userId).finally(() => this.#building.delete(userId));
    this.#building.set(userId, job);
    return job;
  }

  /** Resolves once no build is running (benchmarks and tests wait for the index this way). */
  async idle(): Promise<void> {
    while (this.#building.size > 0) await Promise.allSettled([...this.#building.values()]);
  }

  /** The user's index file could not be read: its record goes, and the next search starts a new build. */
  forget(userId: string): void {
    try {
      this.#db.prepare('UPDATE ann_indexes SET file = NULL WHERE user_id = ?').run(userId);
      this.#checked.delete(userId);
    } catch {
      // locked: the next search that finds it unreadable tries again
    }
  }

  /** The user's index as recorded, if any. */
  state(userId: string): AnnRow | null {
    return (this.#db.prepare(ANN_ROW_SQL).get(userId) as AnnRow | undefined) ?? null;
  }

  /** The store opened (again): builds may start. */
  open(): void {
    this.#closed = false;
  }

  /**
   * Stops the builder thread, abandoning a build in progress (a 1M-memory build takes minutes; its
   * temporary file is swept later), then lets a build that already finished record its file.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = null;
    await pool?.destroy();
    await Promise.allSettled([...this.#building.values()]);
  }

  #needsBuild(userId: string): boolean {
    const usage = this.#db.prepare('SELECT memories FROM user_usage WHERE user_id = ?').get(userId) as
      | { memories: number }
      | undefined;
    const memories = usage?.memories ?? 0;
    if (memories < this.#db.config.annMinMemories) return false;
    const row = this.state(userId);
    if (!row?.file) return true;
    const threshold = Math.max(BEHIND_MIN, Math.min(BEHIND_SHARE * row.vectors, BEHIND_MAX));
    // Counted up to the threshold only: this runs on the main thread.
    const { past, changed } = this.#db
      .prepare(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM vectors WHERE user_id = ? AND rowid > ? LIMIT ?)) AS past,
                (SELECT count(*) FROM (SELECT 1 FROM ann_changes WHERE user_id = ? LIMIT ?)) AS changed`,
      )
      .get(userId, row.watermark, threshold, userId, threshold) as { past: number; changed: number };
    // Deleted since the build: in the index, no longer among the user's memories (an estimate once
    // `past` is capped, which then starts the build anyway).
    const deleted = Math.max(0, row.vectors - (memories - past));
    return past + changed + deleted >= threshold;
  }

  async #build(userId: string): Promise<BuildResult | null> {
    const busyMs = this.#db.config.busyTimeoutMs;
    // The record exists from the start, so vectors rewritten during the first build are listed.
    await whileBusy(
      () => this.#db.prepare('INSERT INTO ann_indexes (user_id) VALUES (?) ON CONFLICT DO NOTHING').run(userId),
      busyMs,
    );
    this.#sweep();
    const result = await this.#builder().run({ userId, dir: this.dir, threads: this.#db.config.annThreads });
    if ('skipped' in result) return null;
    const recorded = await whileBusy(
      () =>
        this.#db.conn
          .transaction(() => {
            const { changes } = this.#db
              .prepare(
                `UPDATE ann_indexes SET file = ?, bytes = ?, dimension = ?, watermark = ?, vectors = ?, built_at = ?
                   WHERE user_id = ? AND file IS ?`,
              )
              .run(
                result.file,
                result.bytes,
                result.dimension,
                result.watermark,
                result.vectors,
                new Date().toISOString(),
                userId,
                result.basedOn,
              );
            if (changes === 0) return false;
            this.#db.prepare('DELETE FROM ann_changes WHERE user_id = ? AND seq <= ?').run(userId, result.changeSeq);
            return true;
          })
          .immediate(),
      busyMs,
    );
    // Another build (another process) or a purge got there first: this file is nobody's.
    if (!recorded) this.retire(result.file, 0);
    else if (result.basedOn) this.retire(result.basedOn, RETIRE_AFTER_MS);
    return recorded ? result : null;
  }

  #builder(): Piscina<BuildTask, BuildResult> {
    if (this.#closed) throw new Error('the store is closing');
    this.#pool ??= new Piscina<BuildTask, BuildResult>({
      filename: workerModule(import.meta.url, 'ann-build-worker'),
      minThreads: 0,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      maxQueue: Number.POSITIVE_INFINITY,
      idleTimeout: 60_000,
      workerData: { path: this.#db.config.path, busyTimeoutMs: this.#db.config.busyTimeoutMs } satisfies BuilderData,
    });
    return this.#pool;
  }

  /** Removes an index file no record refers to any more, after `afterMs` (a search may still be mapping it). */
  retire(file: string, afterMs = RETIRE_AFTER_MS): void {
    const path = join(this.dir, file);
    if (afterMs === 0) rmSync(path, { force: true });
    else setTimeout(() => rmSync(path, { force: true }), afterMs).unref();
  }

  /** Once per process: removes old files no record refers to (left by a kill, a purge, a restore). */
  #sweep(): void {
    if (this.#swept) return;
    this.#swept = true;
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return; // no index yet
    }
    const known = new Set(
      (this.#db.prepare('SELECT file FROM ann_indexes WHERE file IS NOT NULL').all() as { file: string }[]).map(
        (row) => row.file,
      ),
    );
    for (const file of files) {
      if (known.has(file)) continue;
      const path = join(this.dir, file);
      try {
        if (statSync(path).mtimeMs < Date.now() - ORPHAN_AGE_MS) rmSync(path, { force: true });
      } catch {
        // gone already
      }
    }
  }
}
