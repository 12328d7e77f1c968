import type { JobCounts, JobError, JobStatus, JsonValue } from '../core/types.js';
import type { JobOutcome } from './store.js';

/** The columns a `settleJob` writes, the same for every store: what the outcome does not set is null. */
export function settledColumns(outcome: JobOutcome): {
  status: JobStatus;
  at: string;
  result: JsonValue | null;
  error: JobError | null;
  /** null: unchanged. */
  runAfter: string | null;
} {
  switch (outcome.status) {
    case 'succeeded':
      return { status: outcome.status, at: outcome.at, result: outcome.result, error: null, runAfter: null };
    case 'failed':
      return { status: outcome.status, at: outcome.at, result: null, error: outcome.error, runAfter: null };
    case 'queued':
      return { status: outcome.status, at: outcome.at, result: null, error: outcome.error, runAfter: outcome.runAfter };
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
