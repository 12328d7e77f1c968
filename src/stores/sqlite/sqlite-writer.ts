import Database from 'better-sqlite3';
import { Piscina } from 'piscina';
import { EngramError } from '../../core/errors.js';
import { workerModule } from '../../util/worker.js';
import type { InsertTask } from './sqlite-writes.js';
import type { WriteResult, WriterData } from './write-worker.js';

/**
 * The SQLite store's writer thread, for inserts (write-worker.ts). better-sqlite3 is synchronous,
 * and an insert of hundreds of memories — statements, full-text indexing, the fsync of its commit —
 * stopped the event loop for 40–70 ms, many times a second while someone imports. The thread has
 * its own connection to the same file; SQLite's write lock keeps its transactions and the main
 * connection's short writes apart (the main connection waits for it asynchronously, see
 * sqlite-errors.ts). Errors come back as the same classes they were thrown as.
 */
export class SqliteWriter {
  readonly #pool: Piscina<InsertTask, WriteResult>;

  constructor(data: WriterData) {
    this.#pool = new Piscina<InsertTask, WriteResult>({
      filename: workerModule(import.meta.url, 'write-worker'),
      minThreads: 0,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      // Inserts queue here when they arrive faster than the thread commits them.
      maxQueue: Number.POSITIVE_INFINITY,
      idleTimeout: 60_000,
      workerData: data,
    });
  }

  async insert(task: InsertTask): Promise<void> {
    let result: WriteResult;
    try {
      result = await this.#pool.run(task);
    } catch (error) {
      // The thread itself failed (it could not start or died): the store cannot write.
      throw new EngramError('unavailable', `the SQLite writer thread failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if ('sqlite' in result) throw new Database.SqliteError(result.sqlite.message, result.sqlite.code);
    if ('engram' in result)
      throw new EngramError(result.engram.code, result.engram.message, {
        ...(result.engram.details !== undefined && { details: result.engram.details }),
      });
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
