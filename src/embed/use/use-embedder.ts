import { Piscina } from 'piscina';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import { workerModule } from '../../util/worker.js';
import type { Embedder } from '../embedder.js';
import type { WorkerTask } from './worker.js';

export const USE_MODEL = 'use-lite-512';
const DIMENSION = 512;
const WARM_TIMEOUT_MS = 60_000;

export const useConfigSchema = z.object({
  /** Worker threads, each holding its own copy of the model (~150 MB RSS). */
  threads: z.number().int().min(1).max(32).default(1),
  /** Most texts sent to a worker in one inference call. */
  maxBatchSize: z.number().int().min(1).max(1024).default(64),
  /**
   * How long a request waits for others to join its batch while a worker is free. 0 (default)
   * sends it at once; requests that arrive while every worker is busy still join the next batch.
   */
  batchWindowMs: z.number().min(0).max(1000).default(0),
});
export type UseConfig = z.output<typeof useConfigSchema>;
export type UseConfigInput = z.input<typeof useConfigSchema>;

export interface UseEmbedderHooks {
  /**
   * A worker died while idle (piscina replaces it). Errors during a task reject that task
   * instead. Defaults to a process warning on stderr; pass the server's logger here.
   */
  onWorkerError?: (error: unknown) => void;
}

/**
 * Universal Sentence Encoder lite (512-d, offline). TF.js runs in a piscina worker pool, never
 * on the caller's event loop; concurrent `embed()` calls are micro-batched into one inference.
 */
export class UseEmbedder implements Embedder {
  readonly model = USE_MODEL;
  readonly dimension = DIMENSION;
  readonly #config: UseConfig;
  readonly #onWorkerError: (error: unknown) => void;
  #pool: Piscina<WorkerTask, unknown> | undefined;
  #batcher: MicroBatcher | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;

  constructor(config: UseConfigInput = {}, hooks: UseEmbedderHooks = {}) {
    this.#config = useConfigSchema.parse(config);
    this.#onWorkerError = hooks.onWorkerError ?? warnWorkerError;
  }

  /** Starts the workers and waits until every one has loaded the model and run once. */
  init(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    await this.init();
    if (!this.#batcher) throw closedError();
    return this.#batcher.submit(texts);
  }

  /** Finishes queued work, then stops the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    await this.#batcher?.drain();
    await this.#pool?.destroy();
    this.#pool = undefined;
    this.#batcher = undefined;
  }

  async #start(): Promise<void> {
    const pool = createPool(this.#config.threads);
    // Without a listener, an 'error' event from an idle worker would crash the process.
    pool.on('error', this.#onWorkerError);
    try {
      await warmUp(pool, this.#config.threads);
    } catch (error) {
      await pool.destroy();
      throw new EngramError('unavailable', `could not start the ${USE_MODEL} embedder: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (this.#closed) {
      await pool.destroy();
      throw closedError();
    }
    this.#pool = pool;
    this.#batcher = new MicroBatcher((texts) => runBatch(pool, texts), {
      maxBatchSize: this.#config.maxBatchSize,
      windowMs: this.#config.batchWindowMs,
      maxInFlight: this.#config.threads,
    });
  }
}

export function createUseEmbedder(config: UseConfigInput = {}, hooks: UseEmbedderHooks = {}): UseEmbedder {
  return new UseEmbedder(config, hooks);
}

function warnWorkerError(error: unknown): void {
  process.emitWarning(`${USE_MODEL} worker failed: ${messageOf(error)}`, 'EngramEmbedderWarning');
}

/** The worker pool: `worker.js` compiled, a bundle of `worker.ts` from the sources (util/worker.ts). */
function createPool(threads: number): Piscina<WorkerTask, unknown> {
  return new Piscina<WorkerTask, unknown>({
    filename: workerModule(import.meta.url, 'worker'),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
  });
}

/** One warm-up task per thread; the worker-side barrier keeps a thread from taking two. */
async function warmUp(pool: Piscina<WorkerTask, unknown>, threads: number): Promise<void> {
  const barrier = new SharedArrayBuffer(4);
  const task: WorkerTask = { kind: 'warm', barrier, threads, timeoutMs: WARM_TIMEOUT_MS };
  await Promise.all(Array.from({ length: threads }, () => pool.run(task)));
}

async function runBatch(pool: Piscina<WorkerTask, unknown>, texts: string[]): Promise<Float32Array[]> {
  let flat: unknown;
  try {
    flat = await pool.run({ kind: 'embed', texts });
  } catch (error) {
    throw new EngramError('unavailable', `the ${USE_MODEL} embedder failed: ${messageOf(error)}`, { cause: error });
  }
  if (!(flat instanceof Float32Array) || flat.length !== texts.length * DIMENSION) {
    throw new EngramError('internal', `the ${USE_MODEL} worker returned a malformed result`);
  }
  // Copy each vector out so it owns a 2 KB buffer: a subarray view would keep the whole batch's
  // buffer alive for as long as any one vector is held (e.g. by the cache).
  return texts.map((_, i) => flat.slice(i * DIMENSION, (i + 1) * DIMENSION));
}

function closedError(): EngramError {
  return new EngramError('unavailable', `the ${USE_MODEL} embedder is closed`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------

interface BatcherOptions {
  maxBatchSize: number;
  windowMs: number;
  /** Batches running at once; more requests wait in the queue and join bigger batches. */
  maxInFlight: number;
}

interface Request {
  readonly vectors: Float32Array[];
  left: number;
  failed: boolean;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

interface Item {
  text: string;
  request: Request;
  index: number;
}

/**
 * Collects texts from concurrent callers into batches of up to `maxBatchSize`. A batch leaves
 * when it is full, when the window since the first queued text has passed, or — if every worker
 * was busy — as soon as one frees up, so load makes batches bigger instead of queues longer.
 */
export class MicroBatcher {
  readonly #run: (texts: string[]) => Promise<Float32Array[]>;
  readonly #options: BatcherOptions;
  #queue: Item[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(run: (texts: string[]) => Promise<Float32Array[]>, options: BatcherOptions) {
    this.#run = run;
    this.#options = options;
  }

  submit(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const request: Request = { vectors: new Array(texts.length), left: texts.length, failed: false, resolve, reject };
      texts.forEach((text, index) => {
        this.#queue.push({ text, request, index });
      });
      this.#schedule();
    });
  }

  /** Sends everything still queued and resolves when no batch is running. */
  async drain(): Promise<void> {
    this.#flush();
    while (this.#queue.length > 0 || this.#inFlight > 0) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  #schedule(): void {
    const { maxBatchSize, maxInFlight, windowMs } = this.#options;
    while (this.#inFlight < maxInFlight && this.#queue.length >= maxBatchSize) this.#dispatch();
    if (this.#queue.length === 0 || this.#inFlight >= maxInFlight || this.#timer) return;
    if (windowMs === 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), windowMs);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#inFlight < this.#options.maxInFlight && this.#queue.length > 0) this.#dispatch();
  }

  #dispatch(): void {
    const items = this.#queue.splice(0, this.#options.maxBatchSize).filter((item) => !item.request.failed);
    if (items.length === 0) return;
    this.#inFlight++;
    this.#run(items.map((item) => item.text))
      .then(
        (vectors) => deliver(items, vectors),
        (error: unknown) => fail(items, error),
      )
      .finally(() => this.#settled());
  }

  #settled(): void {
    this.#inFlight--;
    this.#flush();
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}

function deliver(items: Item[], vectors: Float32Array[]): void {
  items.forEach(({ request, index }, i) => {
    if (request.failed) return;
    request.vectors[index] = vectors[i] as Float32Array;
    if (--request.left === 0) request.resolve(request.vectors);
  });
}

function fail(items: Item[], error: unknown): void {
  for (const { request } of items) {
    if (request.failed) continue;
    request.failed = true;
    request.reject(error);
  }
}
