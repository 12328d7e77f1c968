import type { Actor } from '../core/history.js';
import type { Job, JsonValue } from '../core/types.js';

/** What a handler gets for one attempt of a job. */
export interface JobContext {
  /** The job as claimed: `attempts` counts this attempt. */
  job: Readonly<Job>;
  /**
   * Aborted when the attempt's result will not be recorded: the lease was lost (another runner
   * took the job) or the shutdown grace period ran out. Long handlers should stop at the next step.
   */
  signal: AbortSignal;
}

/**
 * One kind of background job. `prepare` runs at enqueue time, in the request: it validates the
 * input exactly as the synchronous path would (throwing the same errors, so a request is refused
 * up front rather than failing later) and returns the JSON payload to persist. `run` does one
 * attempt from that payload and returns the job's JSON result.
 *
 * `run` must be safe to repeat: a process can die after the work committed but before the result
 * was recorded, and the job then runs again (an add's exact-hash dedupe makes its retry store
 * nothing twice). An `EngramError` thrown by `run` is retried unless its code is permanent
 * (see `PERMANENT_CODES` in runner.ts); its public message becomes the job's `error`.
 */
export interface JobHandler<Kind extends string = string, Input = never, Result extends JsonValue = JsonValue> {
  readonly kind: Kind;
  prepare(userId: string, input: Input, actor: Actor): JsonValue;
  run(payload: JsonValue, context: JobContext): Promise<Result>;
}

/** Any handler, whatever its input and result (method parameters are bivariant, so every handler fits). */
export type AnyJobHandler = JobHandler<string, never, JsonValue>;

export type JobHandlers = { [kind: string]: AnyJobHandler };

/** The input type of the handler registered for `kind`. */
export type JobInput<H extends JobHandlers, K extends keyof H> =
  H[K] extends JobHandler<string, infer I, JsonValue> ? I : never;

/**
 * The job kinds a process can run, typed by kind: each `register` call adds one and returns the
 * registry with its type widened, so `JobQueue#enqueue('add', …)` checks the input against the
 * add handler's. Register every kind before the queue and runner are built from the registry.
 *
 *   const registry = new JobRegistry().register(addJob(service)).register(extractJob(service, llm));
 */
export class JobRegistry<H extends JobHandlers = Record<never, never>> {
  readonly #handlers = new Map<string, AnyJobHandler>();

  register<K extends string, I, R extends JsonValue>(
    handler: JobHandler<K, I, R>,
  ): JobRegistry<H & { [P in K]: JobHandler<K, I, R> }> {
    if (this.#handlers.has(handler.kind)) throw new Error(`job kind "${handler.kind}" is registered twice`);
    this.#handlers.set(handler.kind, handler as unknown as AnyJobHandler);
    return this as unknown as JobRegistry<H & { [P in K]: JobHandler<K, I, R> }>;
  }

  get(kind: string): AnyJobHandler | undefined {
    return this.#handlers.get(kind);
  }

  kinds(): string[] {
    return [...this.#handlers.keys()];
  }
}
