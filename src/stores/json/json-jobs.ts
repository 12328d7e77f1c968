import { EngramError } from '../../core/errors.js';
import type { Job, JobCounts, JobLease } from '../../core/types.js';
import { settledColumns } from '../jobs-columns.js';
import type { JobClaim, JobOutcome, JobStore } from '../store.js';
import { byString, cloneJob, type JsonData } from './json-data.js';

/**
 * The JSON store's background jobs (`JobStore`): one file for every user's jobs (a claim needs to
 * see all of them), changed under its lock.
 */
export class JsonJobs implements JobStore {
  readonly #data: JsonData;

  constructor(data: JsonData) {
    this.#data = data;
  }

  async enqueueJob(job: Job): Promise<void> {
    this.#data.layout.userDir(job.userId);
    return this.#data.mutateJobs((jobs) => {
      if (jobs.some((known) => known.id === job.id)) {
        throw new EngramError('conflict', `job ${job.id} already exists`, { details: { id: job.id } });
      }
      return { result: undefined, changed: true, jobs: [...jobs, cloneJob(job)] };
    });
  }

  async getJob(userId: string, id: string): Promise<Job | null> {
    this.#data.layout.userDir(userId);
    return this.#data.track(async () => {
      const job = (await this.#data.readJobs()).find((known) => known.id === id && known.userId === userId);
      return job ? cloneJob(job) : null;
    });
  }

  async claimJob(claim: JobClaim): Promise<Job | null> {
    return this.#data.mutateJobs((jobs) => {
      // Jobs are kept in id order, so the first runnable one is the oldest.
      const index = jobs.findIndex(
        (job) =>
          (job.status === 'queued' && job.runAfter <= claim.now) ||
          (job.status === 'running' && job.leaseUntil !== null && job.leaseUntil <= claim.now),
      );
      const job = jobs[index];
      if (!job) return { result: null, changed: false, jobs };
      const claimed: Job = {
        ...job,
        status: 'running',
        attempts: job.attempts + 1,
        lease: claim.lease,
        leaseUntil: claim.leaseUntil,
        updatedAt: claim.now,
      };
      const next = jobs.slice();
      next[index] = claimed;
      return { result: cloneJob(claimed), changed: true, jobs: next };
    });
  }

  async renewJobLease(lease: JobLease, leaseUntil: string): Promise<boolean> {
    return this.#changeHeldJob(lease, (job) => ({ ...job, leaseUntil }));
  }

  async settleJob(lease: JobLease, outcome: JobOutcome): Promise<boolean> {
    const settled = settledColumns(outcome);
    return this.#changeHeldJob(lease, (job) => ({
      ...job,
      status: settled.status,
      payload: settled.dropPayload ? null : job.payload,
      result: settled.result,
      error: settled.error,
      runAfter: settled.runAfter ?? job.runAfter,
      updatedAt: settled.at,
      lease: null,
      leaseUntil: null,
    }));
  }

  async jobCounts(): Promise<JobCounts> {
    return this.#data.track(async () => {
      const counts: JobCounts = { queued: 0, running: 0 };
      for (const job of await this.#data.readJobs()) {
        if (job.status === 'queued' || job.status === 'running') counts[job.status]++;
      }
      return counts;
    });
  }

  async pruneJobs(before: string, limit: number): Promise<number> {
    return this.#data.mutateJobs((jobs) => {
      const finished = jobs
        .filter((job) => (job.status === 'succeeded' || job.status === 'failed') && job.updatedAt < before)
        .sort((a, b) => byString(a.updatedAt, b.updatedAt) || byString(a.id, b.id))
        .slice(0, limit);
      if (finished.length === 0) return { result: 0, changed: false, jobs };
      const gone = new Set(finished.map((job) => job.id));
      return { result: gone.size, changed: true, jobs: jobs.filter((job) => !gone.has(job.id)) };
    });
  }

  /** Changes the job `lease` holds, if it still holds it; false otherwise. */
  #changeHeldJob(lease: JobLease, change: (job: Job) => Job): Promise<boolean> {
    return this.#data.mutateJobs((jobs) => {
      const index = jobs.findIndex(
        (job) =>
          job.id === lease.id && job.userId === lease.userId && job.status === 'running' && job.lease === lease.lease,
      );
      const job = jobs[index];
      if (!job) return { result: false, changed: false, jobs };
      const next = jobs.slice();
      next[index] = change(job);
      return { result: true, changed: true, jobs: next };
    });
  }
}
