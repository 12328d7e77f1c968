import type { Job, JobCounts, JobLease } from '../../core/types.js';
import { countsOf, JOB_COLUMNS, jobFromRow, type JobRow as PgJobRow, settledColumns } from '../jobs-columns.js';
import type { JobClaim, JobOutcome, JobStore } from '../store.js';
import type { PostgresDb } from './postgres-db.js';

type JobRow = PgJobRow<Job['payload']>;
const fromRow = (row: JobRow): Job => jobFromRow(row, (value) => value);

/** A JSON column's parameter: its text (pg would send a JS array as a PostgreSQL array), or null. */
const jsonParam = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/**
 * The PostgreSQL store's background jobs (`JobStore`), in the `jobs` table beside the memories.
 */
export class PostgresJobs implements JobStore {
  readonly #db: PostgresDb;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  async enqueueJob(job: Job): Promise<void> {
    await this.#db.tx({ user: job.userId }, (db) =>
      db.query(
        `INSERT INTO jobs (${JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5::json, $6::json, $7::json, $8, $9, $10, $11, $12, $13)`,
        [
          job.id,
          job.userId,
          job.kind,
          job.status,
          JSON.stringify(job.payload),
          jsonParam(job.result),
          jsonParam(job.error),
          job.attempts,
          job.createdAt,
          job.updatedAt,
          job.runAfter,
          job.lease,
          job.leaseUntil,
        ],
      ),
    );
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE user_id = $1 AND id = $2`, [
        userId,
        id,
      ]);
      return rows[0] ? fromRow(rows[0]) : null;
    });
  }

  /** Store-wide (scope `all`); SKIP LOCKED lets replicas claim side by side without waiting for each other. */
  async claimJob(claim: JobClaim): Promise<Job | null> {
    return this.#db.tx('all', async (db) => {
      const { rows } = await db.query<JobRow>(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease = $2, lease_until = $3, updated_at = $1
         WHERE id = (
           SELECT id FROM jobs
           WHERE status IN ('queued', 'running')
             AND ((status = 'queued' AND run_after <= $1) OR (status = 'running' AND lease_until <= $1))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING ${JOB_COLUMNS}`,
        [claim.now, claim.lease, claim.leaseUntil],
      );
      return rows[0] ? fromRow(rows[0]) : null;
    });
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    return this.#db.tx({ user: lease.userId }, async (db) => {
      const { rowCount } = await db.query(
        `UPDATE jobs SET lease_until = $4 WHERE user_id = $1 AND id = $2 AND status = 'running' AND lease = $3`,
        [lease.userId, lease.id, lease.lease, leaseUntil],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    return this.#db.tx({ user: lease.userId }, async (db) => {
      const { rowCount } = await db.query(
        `UPDATE jobs SET status = $4, result = $5::json, error = $6::json, run_after = coalesce($7, run_after),
           payload = CASE WHEN $9::boolean THEN 'null'::json ELSE payload END,
           updated_at = $8, lease = NULL, lease_until = NULL
         WHERE user_id = $1 AND id = $2 AND status = 'running' AND lease = $3`,
        [
          lease.userId,
          lease.id,
          lease.lease,
          settled.status,
          jsonParam(settled.result),
          jsonParam(settled.error),
          settled.runAfter,
          settled.at,
          settled.dropPayload,
        ],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  async jobCounts(): Promise<JobCounts> {
    return this.#db.tx('all', async (db) => {
      const { rows } = await db.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY status`,
      );
      return countsOf(rows);
    });
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    return this.#db.tx('all', async (db) => {
      const { rowCount } = await db.query(
        `DELETE FROM jobs WHERE id IN (
           SELECT id FROM jobs WHERE status IN ('succeeded', 'failed') AND updated_at < $1
           ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before, limit],
      );
      return rowCount ?? 0;
    });
  }
}
