/**
 * The writer thread of the SQLite store (sqlite-writer.ts): its own read-write connection to the
 * database file, running each insert in one immediate transaction. A large insert (a note of
 * hundreds of sections, a batch of adds) takes tens of milliseconds of SQLite work and its commit
 * waits for fsync; here that no longer holds the event loop that serves every other request.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { EngramError } from '../../core/errors.js';
import { type ConnectionTuning, tuneConnection } from './sqlite-config.js';
import { Statements } from './sqlite-statements.js';
import { type InsertTask, insertRecords } from './sqlite-writes.js';

export interface WriterData extends ConnectionTuning {
  path: string;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
}

/** Done, or the error as data (an Error crossing the thread boundary loses its class and code). */
export type WriteResult =
  | { ok: true }
  | { sqlite: { code: string; message: string } }
  | { engram: { code: EngramError['code']; message: string; details: Record<string, unknown> | undefined } };

const { path, synchronous, busyTimeoutMs, ...tuning } = workerData as WriterData;
let db: Database.Database | null = null;
const statements = new Statements(connection);

function connection(): Database.Database {
  if (db) return db;
  const opened = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
  opened.pragma(`synchronous = ${synchronous.toUpperCase()}`);
  opened.pragma('foreign_keys = ON');
  tuneConnection(opened, tuning);
  sqliteVec.load(opened);
  db = opened;
  return opened;
}

export default function write(task: InsertTask): WriteResult {
  try {
    connection()
      .transaction(() => insertRecords(statements, task))
      .immediate();
    return { ok: true };
  } catch (error) {
    if (error instanceof Database.SqliteError) return { sqlite: { code: error.code, message: error.message } };
    if (error instanceof EngramError)
      return { engram: { code: error.code, message: error.message, details: error.details } };
    throw error;
  }
}
