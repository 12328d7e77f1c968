/**
 * Universal Sentence Encoder lite on onnxruntime-node (native, multi-threaded CPU kernels).
 *
 * Same model as the TF.js `use` embedder — the ONNX graph is rebuilt at start-up from the npm
 * package's own weights and topology (`use-onnx-graph.ts`) — so it has the same model id and its
 * vectors match TF.js's (cosine ≥ 0.999, tested); stores need no reindex when switching.
 *
 * Everything heavy runs in one dedicated worker thread: loading the weights and building the
 * graph, tokenising (the package's tokenizer is quadratic in text length: ~16 ms for a 300-word
 * text, seconds for a 32k-character one), and inference (onnxruntime-node's `run()` blocks the
 * calling thread's event loop for the whole inference). The caller's event loop only posts texts
 * and receives vectors. This module is also that worker's entry point (see the bottom).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import { type Embedder, normalise } from '../embedder.js';
import type { OnnxSession, SessionOptions } from '../onnx/session.js';
import type { UseArchitecture } from './use-onnx-graph.js';
import { loadUseTfjsModel, useModelDir } from './use-tfjs-weights.js';
import type { UseTokenizer } from './use-tokenize.js';

export const USE_ONNX_MODEL = 'use-lite-512';
const DIMENSION = 512;

export const useOnnxConfigSchema = z.object({
  /** onnxruntime intra-op threads; default: `os.availableParallelism()`. */
  threads: z.number().int().min(1).max(256).optional(),
  /**
   * Most texts in one inference. Texts are sorted by token count first, so a batch pads little;
   * 32 was the fastest on a 2-core machine (inference alone, ~20-word texts: ≈830 texts/s;
   * batch 8: 815, 128: 775).
   */
  maxBatchSize: z.number().int().min(1).max(1024).default(32),
  /**
   * Let idle onnxruntime threads spin for work. Off by default: the embedder shares the cores
   * with the server's own threads, and under contention spinning halved batch-1 throughput, while
   * on an idle machine it gained little (batch 32: 810 vs 816 texts/s; batch 1: within ±10 %).
   */
  spin: z.boolean().default(false),
});
export type UseOnnxConfig = z.output<typeof useOnnxConfigSchema>;
export type UseOnnxConfigInput = z.input<typeof useOnnxConfigSchema>;

/** Data the worker is started with. */
interface WorkerInit {
  engramUseOnnxWorker: true;
  modelDir: string;
  intraOpNumThreads: number;
  maxBatchSize: number;
  allowSpinning: boolean;
  /** Set when the worker runs this `.ts` file through tsx's CommonJS hook (tests). */
  tsx?: string;
}

type WorkerMessage =
  | { kind: 'ready'; architecture: UseArchitecture }
  | { kind: 'failed'; error: string }
  | { kind: 'result'; id: number; vectors: Float32Array }
  | { kind: 'error'; id: number; error: string };

interface Pending {
  count: number;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

export class UseOnnxEmbedder implements Embedder {
  readonly model = USE_ONNX_MODEL;
  readonly dimension = DIMENSION;
  readonly #config: UseOnnxConfig;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #architecture: UseArchitecture | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(config: UseOnnxConfigInput = {}) {
    this.#config = useOnnxConfigSchema.parse(config);
  }

  /** The architecture read from the TF graph (after `init()`). */
  get architecture(): UseArchitecture | undefined {
    return this.#architecture;
  }

  /** Starts the worker, which builds the ONNX model and session and runs it once. */
  async init(): Promise<void> {
    await this.#start();
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const worker = await this.#start();
    return new Promise<Float32Array[]>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { count: texts.length, resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, texts });
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

  #start(): Promise<Worker> {
    if (this.#closed) return Promise.reject(closedError());
    this.#starting ??= this.#spawn().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  #spawn(): Promise<Worker> {
    const init: WorkerInit = {
      engramUseOnnxWorker: true,
      modelDir: useModelDir(),
      intraOpNumThreads: this.#config.threads ?? availableParallelism(),
      maxBatchSize: this.#config.maxBatchSize,
      allowSpinning: this.#config.spin,
    };
    const worker = createWorker(init);
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      const fail = (error: Error) => {
        const wrapped = new EngramError('unavailable', `the ${USE_ONNX_MODEL} ONNX embedder failed: ${error.message}`, {
          cause: error,
        });
        if (!ready) reject(wrapped);
        this.#failAll(wrapped);
        if (this.#worker === worker) {
          // The next embed() starts a fresh worker.
          this.#worker = undefined;
          this.#starting = undefined;
        }
        void worker.terminate();
      };
      worker.on('message', (message: WorkerMessage) => {
        switch (message.kind) {
          case 'ready':
            ready = true;
            this.#architecture = message.architecture;
            this.#worker = worker;
            worker.unref();
            resolve(worker);
            return;
          case 'failed':
            fail(new Error(message.error));
            return;
          case 'result':
            this.#settle(message.id, (p) => p.resolve(split(message.vectors, p.count)));
            return;
          case 'error':
            this.#settle(message.id, (p) =>
              p.reject(new EngramError('unavailable', `the ${USE_ONNX_MODEL} ONNX embedder failed: ${message.error}`)),
            );
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
}

export function createUseOnnxEmbedder(config: UseOnnxConfigInput = {}): UseOnnxEmbedder {
  return new UseOnnxEmbedder(config);
}

/** One vector per text, each owning its 2 KB buffer (a view would pin the whole batch). */
function split(flat: Float32Array, count: number): Float32Array[] {
  if (flat.length !== count * DIMENSION) {
    throw new EngramError('internal', `the ${USE_ONNX_MODEL} worker returned ${flat.length} values for ${count} texts`);
  }
  return Array.from({ length: count }, (_, i) => flat.slice(i * DIMENSION, (i + 1) * DIMENSION));
}

function closedError(): EngramError {
  return new EngramError('unavailable', `the ${USE_ONNX_MODEL} ONNX embedder is closed`);
}

/**
 * Compiled, this module (`.js`) is the worker's entry. Under vitest/tsx it is a `.ts` file, which a
 * worker cannot start from (tsx's `--import` hooks are not active for a worker's entry module on
 * Node 20), so a two-line CommonJS entry registers tsx's require hook and requires this file
 * through it.
 */
function createWorker(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(import.meta.url), { workerData: init });
  const require = createRequire(import.meta.url);
  const source =
    "const { workerData } = require('node:worker_threads');\nrequire(workerData.tsx);\nrequire(workerData.entry);";
  return new Worker(source, {
    eval: true,
    workerData: { ...init, tsx: require.resolve('tsx/cjs'), entry: fileURLToPath(import.meta.url) },
  });
}

// ---------------------------------------------------------------------------------------------
// The pipeline (used by the worker; exported for tests and benchmarks that run it in-thread).

export interface UseOnnxPipeline {
  readonly architecture: UseArchitecture;
  readonly tokenizer: UseTokenizer;
  readonly session: OnnxSession;
  readonly maxBatchSize: number;
  readonly runtime: Runtime;
}

type SessionModule = typeof import('../onnx/session.js');
type GraphModule = typeof import('./use-onnx-graph.js');
type TokenizeModule = typeof import('./use-tokenize.js');
interface Runtime {
  session: SessionModule;
  graph: GraphModule;
  tokenize: TokenizeModule;
}

/**
 * The modules that do the work are loaded only where a model runs: session.ts loads
 * onnxruntime's native binding as it is imported (so a process whose binding cannot load can
 * still import this module and fall back), and the tokenizer pulls in TF.js core. In a worker
 * running this `.ts` file through tsx's CommonJS hook, `import()` would bypass tsx, so `require`.
 */
async function loadRuntime(): Promise<Runtime> {
  const data: unknown = isMainThread ? undefined : workerData;
  if (isWorkerInit(data) && data.tsx !== undefined) {
    const require = createRequire(import.meta.url);
    return {
      session: require('../onnx/session.ts') as SessionModule,
      graph: require('./use-onnx-graph.ts') as GraphModule,
      tokenize: require('./use-tokenize.ts') as TokenizeModule,
    };
  }
  const [session, graph, tokenize] = await Promise.all([
    import('../onnx/session.js'),
    import('./use-onnx-graph.js'),
    import('./use-tokenize.js'),
  ]);
  return { session, graph, tokenize };
}

/**
 * Loads weights and vocabulary from `modelDir`, builds the ONNX model and a session on this thread
 * (no spinning unless asked; other session defaults as in `onnx/session.ts`).
 */
export async function createUseOnnxPipeline(
  options: { modelDir?: string; maxBatchSize?: number } & SessionOptions = {},
): Promise<UseOnnxPipeline> {
  const { modelDir = useModelDir(), maxBatchSize = 32, ...sessionOptions } = options;
  const runtime = await loadRuntime();
  const [tfModel, vocabulary] = await Promise.all([
    loadUseTfjsModel(modelDir),
    runtime.tokenize.loadUseVocabulary(modelDir),
  ]);
  const { bytes, architecture } = runtime.graph.buildUseOnnxModel(tfModel);
  const session = await runtime.session.createSession(bytes, { allowSpinning: false, ...sessionOptions });
  const tokenizer = runtime.tokenize.createUseTokenizer(vocabulary, architecture.maxLength);
  return { architecture, tokenizer, session, maxBatchSize, runtime };
}

/**
 * Embeds texts on the calling thread: tokenise, sort by token count, run in batches of up to
 * `maxBatchSize`, restore the input order. Returns unit vectors, flat [texts × 512].
 */
export async function runUseOnnxPipeline(pipeline: UseOnnxPipeline, texts: readonly string[]): Promise<Float32Array> {
  const { padBatch } = pipeline.runtime.tokenize;
  const { USE_INPUT_IDS, USE_ATTENTION_MASK, USE_OUTPUT } = pipeline.runtime.graph;
  const out = new Float32Array(new ArrayBuffer(texts.length * DIMENSION * 4));
  const encodings = texts.map((text) => pipeline.tokenizer.encode(text));
  const order = encodings
    .map((_, i) => i)
    .sort((a, b) => (encodings[a] as number[]).length - (encodings[b] as number[]).length);
  for (let start = 0; start < order.length; start += pipeline.maxBatchSize) {
    const rows = order.slice(start, start + pipeline.maxBatchSize);
    const batch = padBatch(rows.map((i) => encodings[i] as number[]));
    const dims = [batch.batch, batch.seqLength];
    const result = await pipeline.session.run(
      {
        [USE_INPUT_IDS]: { type: 'int64', data: batch.inputIds, dims },
        [USE_ATTENTION_MASK]: { type: 'int64', data: batch.attentionMask, dims },
      },
      [USE_OUTPUT],
    );
    const output = result[USE_OUTPUT];
    if (output?.type !== 'float32' || output.data.length !== rows.length * DIMENSION) {
      throw new Error(`unexpected model output ${output?.type} [${output?.dims.join(', ')}]`);
    }
    rows.forEach((textIndex, row) => {
      const vector = out.subarray(textIndex * DIMENSION, (textIndex + 1) * DIMENSION);
      vector.set(output.data.subarray(row * DIMENSION, (row + 1) * DIMENSION));
      normalise(vector);
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Worker entry: runs only in a thread started by `createWorker` above.

function isWorkerInit(data: unknown): data is WorkerInit {
  return typeof data === 'object' && data !== null && (data as Partial<WorkerInit>).engramUseOnnxWorker === true;
}

async function serveWorker(init: WorkerInit): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Stdout belongs to stdio MCP and a worker's stdout is piped into the process's.
  console.log = console.info = console.debug = console.error;
  let pipeline: UseOnnxPipeline;
  try {
    pipeline = await createUseOnnxPipeline({
      modelDir: init.modelDir,
      maxBatchSize: init.maxBatchSize,
      intraOpNumThreads: init.intraOpNumThreads,
      allowSpinning: init.allowSpinning,
    });
    await runUseOnnxPipeline(pipeline, ['warm up the model']);
  } catch (error) {
    port.postMessage({ kind: 'failed', error: messageOf(error) } satisfies WorkerMessage);
    return;
  }
  // One request at a time, in arrival order; each uses the whole intra-op thread pool.
  let queue = Promise.resolve();
  port.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
    queue = queue.then(async () => {
      try {
        const vectors = await runUseOnnxPipeline(pipeline, texts);
        port.postMessage({ kind: 'result', id, vectors } satisfies WorkerMessage, [vectors.buffer as ArrayBuffer]);
      } catch (error) {
        port.postMessage({ kind: 'error', id, error: messageOf(error) } satisfies WorkerMessage);
      }
    });
  });
  port.postMessage({ kind: 'ready', architecture: pipeline.architecture } satisfies WorkerMessage);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (!isMainThread && isWorkerInit(workerData)) void serveWorker(workerData);
