/**
 * Scheduled backups inside the server (ENGRAM_BACKUP_INTERVAL_MINUTES): a snapshot every interval
 * into the backup directory, then the oldest beyond ENGRAM_BACKUP_KEEP are deleted. One backup at
 * a time; a failed one is reported and the next interval tries again.
 */
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker } from '../util/worker.js';
import { type BackupReport, backupFileName, pruneBackups } from './snapshot.js';

// The worker entry beside this module, in the same form (.js compiled, .ts under vitest).
const WORKER_ENTRY = import.meta.url.replace(/scheduler\.(ts|js)$/, 'snapshot-worker.$1');

/** `snapshotSqlite` in a worker thread: the server's event loop keeps serving meanwhile. */
export async function snapshotInWorker(source: string, target: string): Promise<BackupReport> {
  const worker = startWorker(WORKER_ENTRY, { task: { source, target } });
  try {
    const [reply] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'error').then(([error]) => Promise.reject(error)),
      once(worker, 'exit').then(([code]) => Promise.reject(new Error(`the backup worker exited with ${code}`))),
    ])) as [{ ok: true; report: BackupReport } | { ok: false; message: string }];
    if (!reply.ok) throw new Error(reply.message);
    return reply.report;
  } finally {
    await worker.terminate();
  }
}

export interface BackupSchedule {
  source: string;
  dir: string;
  intervalMs: number;
  keep: number;
}

export interface BackupObserver {
  succeeded(report: BackupReport, pruned: string[]): void;
  failed(error: unknown): void;
}

export class BackupScheduler {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;

  constructor(
    readonly schedule: BackupSchedule,
    observer: BackupObserver,
  ) {
    const run = () => {
      if (this.#running) return;
      this.#running = (async () => {
        mkdirSync(schedule.dir, { recursive: true, mode: 0o700 });
        const report = await snapshotInWorker(schedule.source, join(schedule.dir, backupFileName()));
        observer.succeeded(report, pruneBackups(schedule.dir, schedule.keep));
      })()
        .catch(observer.failed)
        .finally(() => {
          this.#running = null;
        });
    };
    this.#timer = setInterval(run, schedule.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a backup in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
