/**
 * Worker-thread entry for scheduled backups: the snapshot and its check are synchronous SQLite
 * work taking seconds on a large store (BENCHMARKS.md), so the server runs them off its event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { snapshotSqlite } from './snapshot.js';

const { task } = workerData as { task: { source: string; target: string } };
try {
  parentPort?.postMessage({ ok: true, report: snapshotSqlite(task.source, task.target) });
} catch (error) {
  parentPort?.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) });
}
