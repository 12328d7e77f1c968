/**
 * The thread plumbing shared by the ONNX embedders: each runs its whole pipeline (tokeniser,
 * onnxruntime session, pooling) in one dedicated worker thread, because onnxruntime-node's `run()`
 * blocks the calling thread's event loop for the whole inference and tokenising long texts is not
 * cheap either. The caller's event loop only posts texts and receives vectors.
 *
 * - `WorkerHost` (caller side): starts the worker, waits for its `ready`, sends requests, splits
 *   the flat result into one vector per text, fails every pending request if the worker dies (the
 *   next request starts a fresh one), and on close finishes what was sent before stopping it.
 * - `serveWorker` (worker side): builds the pipeline, answers requests one at a time in arrival
 *   order (each inference uses the whole intra-op thread pool).
 *
 * An embedder module is its own worker's entry: compiled (`.js`) it is started directly. Under
 * vitest/tsx it is a `.ts` file, which a worker cannot start from (tsx's `--import` hooks are not
 * active for a worker's entry module on Node 20), so a two-line CommonJS entry registers tsx's
 * require hook and requires the module through it; `workerImport` then loads the module's own
 * heavy dependencies through the same hook.
 */
import { createRequire } from 'node:module';
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import { EngramError, type ErrorCode } from '../../core/errors.js';
import { startWorker } from '../../util/worker.js';
import type { Embedder, EmbedOptions } from '../embedder.js';

/** Worker data: the embedder's own init plus the marker that names its entry. */
interface HostedData {
  engramWorker: string;
  init: unknown;
  /** Set when the worker runs a `.ts` entry through tsx's CommonJS hook (tests). */
  tsx?: string;
}

type WorkerMessage<Info> =
  | { kind: 'ready'; info: Info }
  | { kind: 'failed'; error: string; code: ErrorCode | undefined }
  | { kind: 'result'; id: number; vectors: Float32Array }
  | { kind: 'error'; id: number; error: string };

interface Pending {
  count: number;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

export interface WorkerHostOptions<Info> {
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
}

export class WorkerHost<Info> {
  readonly #options: WorkerHostOptions<Info>;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #info: Info | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(options: WorkerHostOptions<Info>) {
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
    const worker = startWorker(this.#options.entry, { engramWorker: this.#options.marker, init: data });
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

/**
 * An embedder whose model runs in a `WorkerHost`: subclasses set the model id and dimension and
 * build the host; requests and lifecycle go straight to it.
 */
export abstract class HostedEmbedder<Info> implements Embedder {
  abstract readonly model: string;
  abstract readonly dimension: number;
  protected abstract readonly host: WorkerHost<Info>;

  /** Starts the worker, which builds the model's pipeline and runs it once. */
  init(): Promise<void> {
    return this.host.start();
  }

  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]> {
    return this.host.embed(texts, options?.urgent === true);
  }

  /** Finishes the requests already sent, then stops the worker. */
  close(): Promise<void> {
    return this.host.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side.

function hostedData(): HostedData | undefined {
  const data: unknown = isMainThread ? undefined : workerData;
  return typeof data === 'object' && data !== null && typeof (data as HostedData).engramWorker === 'string'
    ? (data as HostedData)
    : undefined;
}

/** The init data when this thread is a worker started for `marker`'s entry, else undefined. */
export function hostedInit<Init>(marker: string): Init | undefined {
  const data = hostedData();
  return data?.engramWorker === marker ? (data.init as Init) : undefined;
}

/**
 * Loads a module lazily from an embedder module: `import()` normally, tsx's require hook in a
 * worker running TypeScript sources (where `import()` would bypass tsx). `tsPath` is the module's
 * `.ts` path relative to `base` (the caller's `import.meta.url`).
 */
export function workerImport<M>(base: string, tsPath: string, load: () => Promise<M>): Promise<M> {
  if (hostedData()?.tsx === undefined) return load();
  return Promise.resolve(createRequire(base)(tsPath) as M);
}

/** What the worker serves: a built pipeline's info and how to embed a batch (flat vectors). */
export interface HostedPipeline<Info> {
  readonly info: Info;
  run(texts: readonly string[]): Promise<Float32Array>;
}

interface Request {
  id: number;
  texts: string[];
  /** Run on its own (it was part of a merged run that failed). */
  alone?: boolean;
  /** Someone is waiting on it (a query): it goes before waiting bulk requests, and merges only with other urgent ones. */
  urgent?: boolean;
}

/** Most texts merged into one pipeline run (the pipeline still cuts them into its own batches). */
const MERGE_MAX_TEXTS = 256;

/** The requests at the head of the queue that run together: in order, up to MERGE_MAX_TEXTS, urgent ones apart. */
function takeGroup(waiting: Request[]): Request[] {
  const group = [waiting.shift() as Request];
  if (group[0]?.alone) return group;
  const urgent = group[0]?.urgent === true;
  let texts = group[0]?.texts.length ?? 0;
  for (
    let next = waiting[0];
    next && !next.alone && (next.urgent === true) === urgent && texts + next.texts.length <= MERGE_MAX_TEXTS;
    next = waiting[0]
  ) {
    group.push(waiting.shift() as Request);
    texts += next.texts.length;
  }
  return group;
}

/**
 * Serves requests from the caller until the thread is stopped: builds the pipeline (reporting a
 * failure with its error code), then embeds requests in arrival order — those that queued up
 * during an inference in one run (fuller batches under concurrent load; each still gets its own
 * answer, and a failing request fails alone).
 */
export async function serveWorker<Info>(build: () => Promise<HostedPipeline<Info>>): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Stdout belongs to stdio MCP and a worker's stdout is piped into the process's.
  console.log = console.info = console.debug = console.error;
  let pipeline: HostedPipeline<Info>;
  try {
    pipeline = await build();
  } catch (error) {
    const code = error instanceof EngramError ? error.code : undefined;
    port.postMessage({ kind: 'failed', error: messageOf(error), code } satisfies WorkerMessage<Info>);
    return;
  }
  const waiting: Request[] = [];
  let busy = false;
  const answer = (request: Request, vectors: Float32Array) =>
    port.postMessage({ kind: 'result', id: request.id, vectors } satisfies WorkerMessage<Info>, [
      vectors.buffer as ArrayBuffer,
    ]);
  const refuse = (request: Request, error: unknown) =>
    port.postMessage({ kind: 'error', id: request.id, error: messageOf(error) } satisfies WorkerMessage<Info>);
  const drain = async () => {
    busy = true;
    while (waiting.length > 0) {
      // Let requests that arrived during the last inference land, then run them together.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const group = takeGroup(waiting);
      try {
        const flat = await pipeline.run(group.flatMap((request) => request.texts));
        const width = flat.length / group.reduce((sum, request) => sum + request.texts.length, 0);
        let offset = 0;
        for (const request of group) {
          const end = offset + request.texts.length * width;
          answer(request, group.length === 1 ? flat : flat.slice(offset, end));
          offset = end;
        }
      } catch (error) {
        if (group.length === 1) refuse(group[0] as Request, error);
        // One bad request must not fail the others it was merged with: run them one by one.
        else waiting.unshift(...group.map((request) => ({ ...request, alone: true })));
      }
    }
    busy = false;
  };
  port.on('message', (request: Request) => {
    if (request.urgent) {
      // After the urgent requests already waiting, before every bulk one.
      const firstBulk = waiting.findIndex((other) => !other.urgent);
      waiting.splice(firstBulk < 0 ? waiting.length : firstBulk, 0, request);
    } else waiting.push(request);
    if (!busy) void drain();
  });
  port.postMessage({ kind: 'ready', info: pipeline.info } satisfies WorkerMessage<Info>);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
