import type { Job, JobCounts, JobError, JobStatus, JsonValue } from '../core/types.js';
import type { JobOutcome } from './store.js';

/** The jobs table's columns, as both SQL stores write and read them. */
export const JOB_COLUMNS =
  'id, user_id, kind, status, payload, result, error, attempts, created_at, updated_at, run_after, lease, lease_until';

/** A row of the jobs table; `J` is how a JSON column arrives: text from SQLite, parsed by pg. */
export interface JobRow<J> {
  id: string;
  user_id: string;
  kind: string;
  status: string;
  payload: J;
  result: J | null;
  error: J | null;
  attempts: number;
  created_at: string;
  updated_at: string;
  run_after: string;
  lease: string | null;
  lease_until: string | null;
}

/** A job from its row; `json` reads one JSON column (`JSON.parse` for text, nothing when the driver parsed it). */
export function jobFromRow<J>(row: JobRow<J>, json: (value: J) => unknown): Job {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    status: row.status as Job['status'],
    payload: json(row.payload) as Job['payload'],
    result: row.result === null ? null : (json(row.result) as Job['result']),
    error: row.error === null ? null : (json(row.error) as Job['error']),
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    runAfter: row.run_after,
    lease: row.lease,
    leaseUntil: row.lease_until,
  };
}

/**
 * The columns a `settleJob` writes, the same for every store: what the outcome does not set is
 * null. A finished job's payload is dropped (set to JSON `null`): it held the user's input (an
 * extract's whole conversation), which nothing reads once no attempt will run again.
 */
export function settledColumns(outcome: JobOutcome): {
  status: JobStatus;
  at: string;
  result: JsonValue | null;
  error: JobError | null;
  /** null: unchanged. */
  runAfter: string | null;
  /** True when the job is finished and its payload goes. */
  dropPayload: boolean;
} {
  switch (outcome.status) {
    case 'succeeded':
      return {
        status: outcome.status,
        at: outcome.at,
        result: outcome.result,
        error: null,
        runAfter: null,
        dropPayload: true,
      };
    case 'failed':
      return {
        status: outcome.status,
        at: outcome.at,
        result: null,
        error: outcome.error,
        runAfter: null,
        dropPayload: true,
      };
    case 'queued':
      return {
        status: outcome.status,
        at: outcome.at,
        result: null,
        error: outcome.error,
        runAfter: outcome.runAfter,
        dropPayload: false,
      };
  }
}

/** `{ queued, running }` from (status, count) rows; missing statuses count 0. */
export function countsOf(rows: { status: string; n: number | string }[]): JobCounts {
  const counts: JobCounts = { queued: 0, running: 0 };
  for (const row of rows) {
    if (row.status === 'queued' || row.status === 'running') counts[row.status] = Number(row.n);
  }
  return counts;
}

/**
 * What a finished job's stored result (JSON text) contains when it names a memory: its id as a
 * JSON string. `forget` removes such jobs, since an add's or an extract's result holds the
 * memory's content (ids are random and long, so nothing else contains one).
 */
export function memoryNeedle(memoryId: string): string {
  return JSON.stringify(memoryId);
}

/** True when a job's result names the memory (see `memoryNeedle`). */
export function resultNames(result: JsonValue | null, memoryId: string): boolean {
  return result !== null && JSON.stringify(result).includes(memoryNeedle(memoryId));
}
