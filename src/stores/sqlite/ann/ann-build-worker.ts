/**
 * The builder thread of the SQLite store's approximate indexes (ann-build.ts): its own read-only
 * connection, so a build of a million vectors runs beside the event loop, the readers and the writer.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type BuildResult, type BuildTask, buildIndex } from './ann-build.js';

export interface BuilderData {
  path: string;
  busyTimeoutMs: number;
}

const { path, busyTimeoutMs } = workerData as BuilderData;
let db: Database.Database | null = null;

export default function build(task: BuildTask): BuildResult {
  db ??= new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  return buildIndex(db, task);
}
