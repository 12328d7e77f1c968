/**
 * A reader thread of the SQLite store (sqlite-readers.ts): its own read-only connection to the
 * database file, with sqlite-vec loaded, answering `SELECT`s sent by the main thread. In WAL mode
 * each statement reads the last committed state, so a write the server acknowledged is seen by the
 * next search.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { searchVectors, type VectorQuery } from './ann/ann-search.js';
import { type ConnectionTuning, tuneConnection } from './sqlite-config.js';
import { type KeywordQuery, rankKeyword } from './sqlite-keyword.js';
import { Statements } from './sqlite-statements.js';

/** A `SELECT` to run, or a keyword search to rank with the user's own statistics (sqlite-keyword.ts). */
export interface ReaderData extends ConnectionTuning {
  path: string;
  busyTimeoutMs: number;
}

export type ReadTask = { sql: string; params: unknown[] } | { keyword: KeywordQuery } | { vector: VectorQuery };

const { path, busyTimeoutMs, ...tuning } = workerData as ReaderData;
let db: Database.Database | null = null;
const statements = new Statements(connection);

function connection(): Database.Database {
  if (db) return db;
  const opened = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  tuneConnection(opened, tuning);
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

export default function read(task: ReadTask): ReadResult {
  try {
    if ('keyword' in task) return { rows: rankKeyword(statements, task.keyword) };
    if ('vector' in task) return { rows: [searchVectors(connection(), statements, task.vector)] };
    return { rows: statements.get(task.sql).all(...task.params.map(bindable)) };
  } catch (error) {
    if (error instanceof Database.SqliteError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
}
