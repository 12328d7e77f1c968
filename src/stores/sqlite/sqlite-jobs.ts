/**
 * The SQLite store's background jobs (`JobStore`), in the `jobs` table beside the memories.
 */
import type { Job, JobCounts, JobLease } from '../../core/types.js';
import { countsOf, JOB_COLUMNS, jobFromRow, settledColumns, type JobRow as TextJobRow } from '../jobs-columns.js';
import type { JobClaim, JobOutcome, JobStore } from '../store.js';
import type { SqliteDb } from './sqlite-db.js';

type JobRow = TextJobRow<string>;
const fromRow = (row: JobRow): Job => jobFromRow(row, (text) => JSON.parse(text));

export class SqliteJobs implements JobStore {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  async enqueueJob(job: Job): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (@id, @user_id, @kind, @status, @payload, @result, @error, @attempts,
           @created_at, @updated_at, @run_after, @lease, @lease_until)`,
      )
      .run(jobToRow(job));
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    const row = this.#db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE user_id = ? AND id = ?`).get(userId, id) as
      | JobRow
      | undefined;
    return row ? fromRow(row) : null;
  }

  async claimJob(claim: JobClaim): Promise<Job | null> {
    // One statement, so one write transaction: two processes on the file never take the same job.
    const row = this.#db
      .prepare(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease = @lease, lease_until = @leaseUntil,
           updated_at = @now
         WHERE rowid = (
           SELECT rowid FROM jobs INDEXED BY jobs_pending
           WHERE status IN ('queued', 'running')
             AND ((status = 'queued' AND run_after <= @now) OR (status = 'running' AND lease_until <= @now))
           ORDER BY id LIMIT 1)
         RETURNING ${JOB_COLUMNS}`,
      )
      .get(claim) as JobRow | undefined;
    return row ? fromRow(row) : null;
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    const { changes } = this.#db
      .prepare(`UPDATE jobs SET lease_until = ? WHERE user_id = ? AND id = ? AND status = 'running' AND lease = ?`)
      .run(leaseUntil, lease.userId, lease.id, lease.lease);
    return changes > 0;
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    const { changes } = this.#db
      .prepare(
        `UPDATE jobs SET status = @status, result = @result, error = @error, run_after = coalesce(@runAfter, run_after),
           payload = CASE WHEN @dropPayload THEN 'null' ELSE payload END,
           updated_at = @at, lease = NULL, lease_until = NULL
         WHERE user_id = @userId AND id = @id AND status = 'running' AND lease = @lease`,
      )
      .run({
        ...settled,
        dropPayload: settled.dropPayload ? 1 : 0,
        result: settled.result === null ? null : JSON.stringify(settled.result),
        error: settled.error === null ? null : JSON.stringify(settled.error),
        ...lease,
      });
    return changes > 0;
  }

  async jobCounts(): Promise<JobCounts> {
    const rows = this.#db
      .prepare(
        `SELECT status, count(*) AS n FROM jobs INDEXED BY jobs_pending WHERE status IN ('queued', 'running') GROUP BY status`,
      )
      .all() as { status: string; n: number }[];
    return countsOf(rows);
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    const { changes } = this.#db
      .prepare(
        `DELETE FROM jobs WHERE rowid IN (
           SELECT rowid FROM jobs INDEXED BY jobs_finished
           WHERE status IN ('succeeded', 'failed') AND updated_at < ? ORDER BY updated_at LIMIT ?)`,
      )
      .run(before, limit);
    return changes;
  }
}

function jobToRow(job: Job): JobRow {
  return {
    id: job.id,
    user_id: job.userId,
    kind: job.kind,
    status: job.status,
    payload: JSON.stringify(job.payload),
    result: job.result === null ? null : JSON.stringify(job.result),
    error: job.error === null ? null : JSON.stringify(job.error),
    attempts: job.attempts,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
    run_after: job.runAfter,
    lease: job.lease,
    lease_until: job.leaseUntil,
  };
}
