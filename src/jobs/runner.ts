import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngramError, type ErrorCode, isPrivateError, publicError } from '../core/errors.js';
import type { Job, JobError, JobLease } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { JobHandlers } from './handler.js';
import type { JobQueue } from './queue.js';

export interface JobRunnerOptions {
  /** Jobs this process runs at once; 0 runs none (the process only enqueues, other replicas run them). */
  concurrency: number;
  /** Attempts before a job is marked failed (a job whose process died counts the attempt too). */
  maxAttempts: number;
  /** How often to look for jobs enqueued elsewhere (other replicas, before a restart, retries now due). */
  pollMs: number;
  /** How long a claim holds without a heartbeat; a job whose process died is resumed after this. */
  leaseMs: number;
  /** Wait before the first retry; doubled for each further attempt (at most `maxBackoffMs`). */
  backoffMs: number;
  maxBackoffMs?: number;
  logger?: Logger;
}

/** Failures a retry cannot fix: the job fails at once. */
export const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'invalid_request',
  'forbidden',
  'not_found',
  'payload_too_large',
  'embedding_mismatch',
]);

interface Running {
  done: Promise<void>;
  controller: AbortController;
}

/**
 * Runs jobs from the store, one runner per process: it claims the oldest runnable job whenever it
 * has room — at once when this process enqueues one, else every `pollMs` — runs it through the
 * registry's handler for its kind, heartbeats the lease while it runs, and settles it: succeeded,
 * queued again after an exponential backoff, or failed with the public reason after `maxAttempts`.
 * On `stop` it claims nothing more and waits (up to a grace period) for what runs; whatever is
 * still unfinished keeps its lease, which expires, so the next runner on the store resumes it.
 */
export class JobRunner<H extends JobHandlers = JobHandlers> {
  readonly #queue: JobQueue<H>;
  readonly #options: Required<Omit<JobRunnerOptions, 'logger'>> & { logger: Logger | undefined };
  readonly #running = new Map<string, Running>();
  #timer: NodeJS.Timeout | null = null;
  #unobserve: (() => void) | null = null;
  #filling: Promise<void> | null = null;
  #again = false;
  #stopping = false;

  constructor(queue: JobQueue<H>, options: JobRunnerOptions) {
    this.#queue = queue;
    this.#options = { maxBackoffMs: 600_000, ...options, logger: options.logger };
  }

  /** Jobs running in this process now. */
  get active(): number {
    return this.#running.size;
  }

  start(): void {
    if (this.#timer || this.#stopping || this.#options.concurrency < 1) return;
    this.#unobserve = this.#queue.observe({ enqueued: () => this.wake() });
    this.#timer = setInterval(() => this.wake(), this.#options.pollMs);
    this.#timer.unref();
    this.wake();
  }

  /** Looks for jobs now (room permitting). */
  wake(): void {
    if (this.#stopping || !this.#timer) return;
    if (this.#filling) {
      this.#again = true;
      return;
    }
    this.#filling = this.#fill().finally(() => {
      this.#filling = null;
    });
  }

  /**
   * Stops claiming, then waits up to `graceMs` for running jobs. Those still running are abandoned
   * (their results would not be recorded) and resumed by the next runner once their lease expires.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#unobserve?.();
    await this.#filling;
    const running = [...this.#running.values()];
    if (running.length === 0) return;
    const grace = new AbortController();
    const finished = await Promise.race([
      Promise.allSettled(running.map((job) => job.done)).then(() => true),
      sleep(graceMs, false, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (!finished) {
      this.#options.logger?.warn(
        { jobs: [...this.#running.keys()] },
        'jobs still running at shutdown; their leases expire and another start resumes them',
      );
      for (const job of this.#running.values()) job.controller.abort(new Error('shutting down'));
    }
  }

  async #fill(): Promise<void> {
    do {
      this.#again = false;
      while (!this.#stopping && this.#running.size < this.#options.concurrency) {
        let job: Job | null;
        try {
          job = await this.#claim();
        } catch (error) {
          this.#options.logger?.warn({ err: error }, 'could not claim a job; trying again at the next poll');
          return;
        }
        if (!job) break;
        this.#start(job);
      }
    } while (this.#again && !this.#stopping);
  }

  #claim(): Promise<Job | null> {
    const now = this.#queue.now();
    return this.#queue.store.claimJob({
      now: now.toISOString(),
      lease: randomUUID(),
      leaseUntil: new Date(now.getTime() + this.#options.leaseMs).toISOString(),
    });
  }

  #start(job: Job): void {
    const lease: JobLease = { userId: job.userId, id: job.id, lease: job.lease as string };
    const controller = new AbortController();
    const heartbeat = setInterval(
      () => void this.#renew(lease, controller),
      Math.max(100, Math.floor(this.#options.leaseMs / 3)),
    );
    heartbeat.unref();
    controller.signal.addEventListener('abort', () => clearInterval(heartbeat), { once: true });
    this.#queue.report(job.kind, 'running');
    const done = this.#attempt(job, lease, controller.signal).finally(() => {
      clearInterval(heartbeat);
      this.#running.delete(job.id);
      this.wake();
    });
    this.#running.set(job.id, { done, controller });
  }

  async #renew(lease: JobLease, controller: AbortController): Promise<void> {
    const leaseUntil = new Date(this.#queue.now().getTime() + this.#options.leaseMs).toISOString();
    try {
      if (!(await this.#queue.store.renewJobLease(lease, leaseUntil))) {
        this.#options.logger?.warn({ job: lease.id }, 'lost the lease on a running job; its result will be dropped');
        controller.abort(new Error('lease lost'));
      }
    } catch (error) {
      // A passing store failure: the next heartbeat tries again before the lease runs out.
      this.#options.logger?.warn({ err: error, job: lease.id }, 'could not renew a job lease');
    }
  }

  async #attempt(job: Job, lease: JobLease, signal: AbortSignal): Promise<void> {
    const { maxAttempts, logger } = this.#options;
    const handler = this.#queue.registry.get(job.kind);
    if (!handler) {
      await this.#settle(job, lease, signal, 'failed', {
        code: 'internal',
        message: `this server has no handler for jobs of kind "${job.kind}"`,
      });
      return;
    }
    if (job.attempts > maxAttempts) {
      // Claimed again after its runner died, more often than it may be tried.
      await this.#settle(job, lease, signal, 'failed', {
        code: 'internal',
        message: `gave up after ${maxAttempts} attempts: the process running the job stopped before it finished`,
      });
      return;
    }
    let result: Awaited<ReturnType<typeof handler.run>>;
    try {
      result = await handler.run(job.payload, { job, signal });
    } catch (error) {
      if (isPrivateError(error)) logger?.error({ err: error, job: job.id, kind: job.kind }, 'job attempt failed');
      else logger?.info({ job: job.id, kind: job.kind, err: (error as Error).message }, 'job attempt failed');
      const visible = publicError(error instanceof EngramError ? error : new EngramError('internal', 'job failed'));
      const reason: JobError = { code: visible.code, message: visible.message };
      const permanent = error instanceof EngramError && PERMANENT_CODES.has(error.code);
      await this.#settle(job, lease, signal, permanent || job.attempts >= maxAttempts ? 'failed' : 'queued', reason);
      return;
    }
    if (signal.aborted) return;
    const at = this.#queue.now().toISOString();
    if (await this.#record(job, lease, () => this.#queue.store.settleJob(lease, { status: 'succeeded', at, result }))) {
      this.#queue.report(job.kind, 'succeeded');
    }
  }

  async #settle(
    job: Job,
    lease: JobLease,
    signal: AbortSignal,
    status: 'failed' | 'queued',
    error: JobError,
  ): Promise<void> {
    if (signal.aborted) return;
    const now = this.#queue.now();
    const at = now.toISOString();
    const { backoffMs, maxBackoffMs } = this.#options;
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** Math.max(0, job.attempts - 1));
    const runAfter = new Date(now.getTime() + delay).toISOString();
    const settled = await this.#record(job, lease, () =>
      this.#queue.store.settleJob(lease, status === 'failed' ? { status, at, error } : { status, at, error, runAfter }),
    );
    if (settled) this.#queue.report(job.kind, status);
  }

  /** Records an outcome; false (logged) when the lease was lost or the store failed — the lease then expires. */
  async #record(job: Job, lease: JobLease, write: () => Promise<boolean>): Promise<boolean> {
    try {
      if (await write()) return true;
      this.#options.logger?.warn({ job: job.id }, 'a job finished after its lease was lost; its outcome was dropped');
    } catch (error) {
      this.#options.logger?.error(
        { err: error, job: job.id, lease: lease.id },
        'could not record a job outcome; the job runs again when its lease expires',
      );
    }
    return false;
  }
}
