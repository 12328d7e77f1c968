import { notFound } from '../core/errors.js';
import type { Actor } from '../core/history.js';
import { newId } from '../core/ids.js';
import { parseInput, userIdSchema } from '../core/schemas.js';
import type { Job, JobStatus } from '../core/types.js';
import type { JobStore } from '../stores/store.js';
import type { JobHandlers, JobInput, JobRegistry } from './handler.js';
import { type JobView, jobView } from './view.js';

/** Receives every change of a job's status (e.g. to count it in metrics). Called synchronously; must not throw. */
export interface JobObserver {
  /** `kind`'s job moved to `status` (`queued` again after a failure means a retry waits). */
  changed?(kind: string, status: JobStatus): void;
  /** A job was enqueued in this process (the runner wakes up for it). */
  enqueued?(job: Job): void;
}

export interface JobQueueOptions<H extends JobHandlers> {
  store: JobStore;
  registry: JobRegistry<H>;
  clock?: () => Date;
}

/**
 * Accepts background work for a user and answers what became of it; front ends call this, a
 * `JobRunner` does the work. Jobs live in the store, so any process on it can run them.
 */
export class JobQueue<H extends JobHandlers = JobHandlers> {
  readonly store: JobStore;
  readonly registry: JobRegistry<H>;
  readonly #clock: () => Date;
  readonly #observers = new Set<JobObserver>();

  constructor(options: JobQueueOptions<H>) {
    this.store = options.store;
    this.registry = options.registry;
    this.#clock = options.clock ?? (() => new Date());
  }

  now(): Date {
    return this.#clock();
  }

  /** Registers an observer; returns a function that removes it. */
  observe(observer: JobObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Tells the observers that a job of `kind` moved to `status` (the runner reports its transitions here). */
  report(kind: string, status: JobStatus): void {
    for (const observer of this.#observers) observer.changed?.(kind, status);
  }

  /**
   * Validates `input` with the kind's handler (throwing what the synchronous call would throw),
   * persists the job and returns it, queued. It runs as soon as a runner has room.
   */
  async enqueue<K extends keyof H & string>(
    kind: K,
    userId: string,
    input: JobInput<H, K>,
    actor: Actor,
  ): Promise<JobView> {
    parseInput(userIdSchema, userId);
    const handler = this.registry.get(kind);
    if (!handler) throw new Error(`no handler is registered for job kind "${kind}"`);
    const payload = handler.prepare(userId, input as never, actor);
    const at = this.now().toISOString();
    const job: Job = {
      id: newId(),
      userId,
      kind,
      status: 'queued',
      payload,
      result: null,
      error: null,
      attempts: 0,
      createdAt: at,
      updatedAt: at,
      runAfter: at,
      lease: null,
      leaseUntil: null,
    };
    await this.store.enqueueJob(job);
    this.report(kind, 'queued');
    for (const observer of this.#observers) observer.enqueued?.(job);
    return jobView(job);
  }

  /**
   * Deletes the finished (succeeded or failed) jobs of every user that finished more than
   * `retentionMs` ago, in batches; returns how many went. Their results, which may quote memories
   * since deleted, go with them; asking for such a job afterwards is `not_found`.
   */
  async prune(retentionMs: number, batch = 500): Promise<number> {
    const before = new Date(this.now().getTime() - retentionMs).toISOString();
    let pruned = 0;
    for (;;) {
      const round = await this.store.pruneJobs(before, batch);
      pruned += round;
      if (round < batch) return pruned;
    }
  }

  /** One of the user's jobs; another user's job is `not_found`, as if it did not exist. */
  async get(userId: string, id: string): Promise<JobView> {
    parseInput(userIdSchema, userId);
    const job = await this.store.getJob(userId, id);
    if (!job) throw notFound('job', id);
    return jobView(job);
  }
}
