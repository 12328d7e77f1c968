import { z } from 'zod';
import { JOB_STATUSES, type Job, type JobError, type JobStatus, type JsonValue } from '../core/types.js';

/** A job as clients see it (REST `GET /v1/jobs/{id}`, MCP `get_job`): no payload, no lease. */
export interface JobView {
  id: string;
  kind: string;
  status: JobStatus;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  /** When `succeeded`: what the synchronous call would have returned. */
  result?: JsonValue;
  /** When `failed`, the reason; while a retry waits (`queued`), the last failure. */
  error?: JobError;
}

export function jobView(job: Job): JobView {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    attempts: job.attempts,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.status === 'succeeded' && { result: job.result }),
    ...(job.error !== null && { error: job.error }),
  };
}

/** The schema of `JobView` for the OpenAPI document and MCP output schemas. */
export const jobViewSchema = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(JOB_STATUSES),
  attempts: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
