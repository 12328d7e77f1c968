import Database from 'better-sqlite3';
import { Piscina } from 'piscina';
import { EngramError } from '../../core/errors.js';
import { workerModule } from '../../util/worker.js';
import type { VectorQuery, VectorRows } from './ann/ann-search.js';
import type { ReaderData, ReadResult, ReadTask } from './read-worker.js';
import type { KeywordQuery } from './sqlite-keyword.js';

/**
 * Reader threads for the SQLite store's heavy reads (vector and full-text scans). better-sqlite3
 * is synchronous: a scan of a large user's vectors on the main thread would stop the event loop —
 * `/health`, every other user's request — for as long as it runs. Each reader has its own read-only
 * connection to the same file (WAL: readers never block the writer or each other), so scans run
 * beside the event loop and beside each other.
 */
export class SqliteReaders {
  readonly #pool: Piscina<ReadTask, ReadResult>;

  constructor(path: string, threads: number, options: Omit<ReaderData, 'path'>) {
    this.#pool = new Piscina<ReadTask, ReadResult>({
      filename: workerModule(import.meta.url, 'read-worker'),
      minThreads: 0,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      workerData: { path, ...options } satisfies ReaderData,
    });
  }

  /** The rows; a SQLite error comes back as the driver's own `SqliteError`, as on the main thread. */
  all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.#run<T>({ sql, params });
  }

  /** A keyword search ranked with the user's own statistics (sqlite-keyword.ts). */
  keyword(query: KeywordQuery): Promise<{ id: string; score: number; coverage: number }[]> {
    return this.#run({ keyword: query });
  }

  /** A user's vector search, exact or through the user's approximate index (ann/ann-search.ts). */
  async vector(query: VectorQuery): Promise<VectorRows> {
    const [result] = await this.#run<VectorRows>({ vector: query });
    return result as VectorRows;
  }

  async #run<T>(task: ReadTask): Promise<T[]> {
    let result: ReadResult;
    try {
      result = await this.#pool.run(task);
    } catch (error) {
      // The thread itself failed (it could not start or died): the store cannot serve reads.
      throw new EngramError('unavailable', `a SQLite reader thread failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if ('error' in result) throw new Database.SqliteError(result.error.message, result.error.code);
    return result.rows as T[];
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
