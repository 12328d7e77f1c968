import type { Config } from '../config.js';
import type { MemoryService } from '../core/memory-service.js';
import type { Logger } from '../logger.js';
import { addJob } from './add-job.js';
import { extractJob } from './extract-job.js';
import { JobRegistry } from './handler.js';
import { JobQueue } from './queue.js';
import { JobRunner } from './runner.js';

export { type AddJobInput, addJob } from './add-job.js';
export { extractJob } from './extract-job.js';
export { type AnyJobHandler, type JobContext, type JobHandler, type JobInput, JobRegistry } from './handler.js';
export { type JobObserver, JobQueue } from './queue.js';
export { JobRunner, type JobRunnerOptions, PERMANENT_CODES } from './runner.js';
export { type JobView, jobView, jobViewSchema } from './view.js';

/** Every job kind the server runs. A new kind is one more `.register(…)` here. */
export function jobRegistry(service: MemoryService) {
  return new JobRegistry().register(addJob(service)).register(extractJob(service));
}

export type EngramJobs = ReturnType<typeof jobRegistry> extends JobRegistry<infer H> ? JobQueue<H> : never;

/** The runner settings from the config. */
export function runnerOptions(config: Config, logger?: Logger) {
  const { concurrency, maxAttempts, pollMs, leaseMs, backoffMs } = config.jobs;
  return { concurrency, maxAttempts, pollMs, leaseMs, backoffMs, ...(logger && { logger }) };
}

/** The queue the front ends enqueue to and the (not yet started) runner of this process, over `service`'s store. */
export function createJobs(config: Config, service: MemoryService, logger?: Logger) {
  const queue: EngramJobs = new JobQueue({ store: service.store, registry: jobRegistry(service) });
  return { queue, runner: new JobRunner(queue, runnerOptions(config, logger)) };
}
