/**
 * A reader thread of the SQLite store (sqlite-readers.ts): its own read-only connection to the
 * database file, with sqlite-vec loaded, answering `SELECT`s sent by the main thread. In WAL mode
 * each statement reads the last committed state, so a write the server acknowledged is seen by the
 * next search.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

export interface ReadTask {
  sql: string;
  params: unknown[];
}

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
let db: Database.Database | null = null;
const statements = new Map<string, Database.Statement>();

function connection(): Database.Database {
  if (db) return db;
  const opened = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  sqliteVec.load(opened);
  db = opened;
  return opened;
}

/** Bytes arrive as a plain Uint8Array (structured clone); SQLite binds Buffers as blobs. */
const bindable = (value: unknown): unknown =>
  value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value;

/** Rows, or SQLite's error as data (an Error crossing the thread boundary loses its `code`). */
export type ReadResult = { rows: unknown[] } | { error: { code: string; message: string } };

export default function read({ sql, params }: ReadTask): ReadResult {
  try {
    let statement = statements.get(sql);
    if (!statement) {
      statement = connection().prepare(sql);
      // Searches are built from a few shapes; keep the cache from growing without bound all the same.
      if (statements.size >= 256) statements.clear();
      statements.set(sql, statement);
    }
    return { rows: statement.all(...params.map(bindable)) };
  } catch (error) {
    if (error instanceof Database.SqliteError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
}
