/**
 * One model worker thread, caller side: starts the worker, waits for its `ready`, sends requests,
 * splits the flat result into one vector per text, fails every pending request if the worker dies
 * (the next request starts a fresh one), and on close finishes what was sent before stopping it.
 * `WorkerHost` (worker-host.ts) runs one or two of these.
 */
import type { Worker } from 'node:worker_threads';
import { EngramError, type ErrorCode } from '../../core/errors.js';
import { startWorker } from '../../util/worker.js';

/**
 * What a worker serves: `all` requests, or one lane of two — `query` (someone is waiting: search
 * queries) and `bulk` (ingest, reindex), whose worker runs at a lower CPU priority.
 */
export type LaneName = 'all' | 'query' | 'bulk';

/** A request to the worker. */
export interface Request {
  id: number;
  texts: string[];
  /** Run on its own (it was part of a merged run that failed). */
  alone?: boolean;
  /** Someone is waiting on it (a query): it goes before waiting bulk requests, and merges only with other urgent ones. */
  urgent?: boolean;
}

/** Worker data: the embedder's own init plus the marker that names its entry. */
export interface HostedData {
  engramWorker: string;
  init: unknown;
  lane: LaneName;
}

export type WorkerMessage<Info> =
  | { kind: 'ready'; info: Info }
  | { kind: 'failed'; error: string; code: ErrorCode | undefined }
  | { kind: 'result'; id: number; vectors: Float32Array }
  | { kind: 'error'; id: number; error: string };

interface Pending {
  count: number;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

export interface WorkerLaneOptions<Info> {
  /** Names the embedder in errors, e.g. `use-lite-512 ONNX`. */
  readonly label: string;
  /** The embedder module's `import.meta.url`: the worker's entry. */
  readonly entry: string;
  /** Marker the entry checks (`isHostedWorker`) before serving. */
  readonly marker: string;
  /** Vector length once the worker is ready. */
  dimension(info: Info): number;
  /** The worker's init data, computed at each start; may throw, e.g. to refuse a bad model directory. */
  init(): Promise<unknown> | unknown;
  /** What this worker serves (the worker lowers its own CPU priority for `bulk`). */
  readonly lane: LaneName;
}

export class WorkerLane<Info> {
  readonly #options: WorkerLaneOptions<Info>;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #info: Info | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(options: WorkerLaneOptions<Info>) {
    this.#options = options;
  }

  /** What the worker reported when it became ready (undefined before). */
  get info(): Info | undefined {
    return this.#info;
  }

  /**
   * Starts the worker (once; again after the worker died). Resolves when its pipeline is built
   * and warmed up.
   */
  async start(): Promise<void> {
    await this.#ensure();
  }

  /** One vector per text, starting the worker if needed; `urgent` requests run before waiting bulk ones. */
  async embed(texts: readonly string[], urgent = false): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const worker = await this.#ensure();
    return new Promise<Float32Array[]>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { count: texts.length, resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, texts: texts as string[], ...(urgent && { urgent }) } satisfies Request);
    });
  }

  /** Finishes the requests already sent, then stops the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    while (this.#pending.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    const worker = this.#worker;
    this.#worker = undefined;
    this.#starting = undefined;
    await worker?.terminate();
  }

  #ensure(): Promise<Worker> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#starting ??= this.#spawn().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #spawn(): Promise<Worker> {
    const data = await this.#options.init();
    if (this.#closed) throw this.#closedError();
    const worker = startWorker(this.#options.entry, {
      engramWorker: this.#options.marker,
      init: data,
      lane: this.#options.lane,
    } satisfies HostedData);
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      const fail = (error: Error) => {
        const wrapped = error instanceof EngramError ? error : this.#failure(error.message, error);
        if (!ready) reject(wrapped);
        this.#failAll(wrapped);
        if (this.#worker === worker) {
          // The next request starts a fresh worker.
          this.#worker = undefined;
          this.#starting = undefined;
        }
        void worker.terminate();
      };
      worker.on('message', (message: WorkerMessage<Info>) => {
        switch (message.kind) {
          case 'ready':
            ready = true;
            this.#info = message.info;
            this.#worker = worker;
            worker.unref();
            resolve(worker);
            return;
          case 'failed':
            // Problems with the model itself (e.g. a broken directory) keep their code.
            fail(
              message.code === 'invalid_request'
                ? new EngramError('invalid_request', message.error)
                : new Error(message.error),
            );
            return;
          case 'result':
            this.#settle(message.id, (p) => p.resolve(this.#split(message.vectors, p.count)));
            return;
          case 'error':
            this.#settle(message.id, (p) => p.reject(this.#failure(message.error)));
            return;
        }
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (!this.#closed || this.#pending.size > 0) fail(new Error(`worker exited with code ${code}`));
      });
    });
  }

  #settle(id: number, action: (pending: Pending) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    try {
      action(pending);
    } catch (error) {
      pending.reject(error);
    }
    if (this.#pending.size === 0) {
      this.#worker?.unref();
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** One vector per text, each owning its buffer (a view would pin the whole batch). */
  #split(flat: Float32Array, count: number): Float32Array[] {
    const dimension = this.#info === undefined ? 0 : this.#options.dimension(this.#info);
    if (flat.length !== count * dimension) {
      throw new EngramError(
        'internal',
        `the ${this.#options.label} worker returned ${flat.length} values for ${count} texts`,
      );
    }
    return Array.from({ length: count }, (_, i) => flat.slice(i * dimension, (i + 1) * dimension));
  }

  #failure(message: string, cause?: unknown): EngramError {
    return new EngramError('unavailable', `the ${this.#options.label} embedder failed: ${message}`, { cause });
  }

  #closedError(): EngramError {
    return new EngramError('unavailable', `the ${this.#options.label} embedder is closed`);
  }
}
