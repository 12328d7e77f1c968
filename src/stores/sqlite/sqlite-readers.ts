import { Piscina } from 'piscina';
import { EngramError } from '../../core/errors.js';
import { workerModule } from '../../util/worker.js';
import type { ReadTask } from './read-worker.js';

/**
 * Reader threads for the SQLite store's heavy reads (vector and full-text scans). better-sqlite3
 * is synchronous: a scan of a large user's vectors on the main thread would stop the event loop —
 * `/health`, every other user's request — for as long as it runs. Each reader has its own read-only
 * connection to the same file (WAL: readers never block the writer or each other), so scans run
 * beside the event loop and beside each other.
 */
export class SqliteReaders {
  readonly #pool: Piscina<ReadTask, unknown[]>;

  constructor(path: string, threads: number, busyTimeoutMs: number) {
    const worker = workerModule(import.meta.url, 'read-worker');
    this.#pool = new Piscina<ReadTask, unknown[]>({
      ...worker,
      minThreads: 0,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      workerData: { path, busyTimeoutMs },
    });
  }

  async all<T>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.#pool.run({ sql, params })) as T[];
    } catch (error) {
      if (error instanceof EngramError) throw error;
      throw new EngramError('unavailable', `a SQLite read failed: ${(error as Error).message}`, { cause: error });
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
