/**
 * `onnx`: any local sentence-transformers model directory (bge-small, e5-small, all-MiniLM, …) on
 * onnxruntime-node, tokenised in TypeScript with @huggingface/tokenizers, pooled and normalised as
 * the directory's modules.json says (see model-dir.ts for the layout).
 *
 * Like the USE ONNX embedder, everything heavy runs in one dedicated worker thread — parsing
 * tokenizer.json, tokenising, inference (onnxruntime-node's `run()` blocks the calling thread's
 * event loop for the whole inference) and pooling. The caller's event loop validates the directory
 * (small JSON files), posts texts and receives vectors. This module is also the worker's entry
 * point (see the bottom).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { EngramError, type ErrorCode } from '../../core/errors.js';
import { type Embedder, normalise } from '../embedder.js';
import type { Feeds, OnnxSession } from '../onnx/session.js';
import { loadModelDir, loadTokenizer, type ModelDir, modelDirName, type TextTokenizer } from './model-dir.js';
import { poolRow } from './pooling.js';

export const onnxDirConfigSchema = z.object({
  /** The model directory (sentence-transformers layout with an ONNX export). */
  path: z.string().min(1),
  /** onnxruntime intra-op threads; default: `os.availableParallelism()`. */
  threads: z.number().int().min(1).max(256).optional(),
  /** Most texts in one inference; texts are sorted by token count first, so a batch pads little. */
  maxBatchSize: z.number().int().min(1).max(1024).default(32),
  /**
   * Prepended to every text before tokenising, e.g. `"query: "` for e5 models. The Embedder
   * interface does not tell queries from documents, so one prefix serves both.
   */
  prefix: z.string().max(1000).default(''),
});
export type OnnxDirConfig = z.output<typeof onnxDirConfigSchema>;
export type OnnxDirConfigInput = z.input<typeof onnxDirConfigSchema>;

/** Inputs this embedder knows how to feed. */
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);
/** Outputs preferred, in order; otherwise the model's first output. */
const POOLED_OUTPUT = 'sentence_embedding';
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const WARM_TEXT = 'warm up the model';

/** Data the worker is started with. */
interface WorkerInit {
  engramOnnxDirWorker: true;
  dir: ModelDir;
  intraOpNumThreads: number;
  maxBatchSize: number;
  prefix: string;
  /** Set (by `createWorker`) when the worker runs this file's TypeScript source through tsx. */
  tsx?: string;
}

/** What the worker reports once its session is ready. */
export interface OnnxDirModelInfo {
  /** Vector length (checked against config.json by the warm-up run). */
  dimension: number;
  /** Most tokens per text; longer texts are truncated. */
  maxLength: number;
  /** The model's graph inputs fed by this embedder. */
  inputs: string[];
  /** The graph output read, and whether it is already one vector per text. */
  output: string;
  pooled: boolean;
  /** Pooling modes applied (empty when the model pools itself). */
  pooling: string[];
  normalize: boolean;
}

type WorkerMessage =
  | { kind: 'ready'; info: OnnxDirModelInfo }
  | { kind: 'failed'; error: string; code: ErrorCode | undefined }
  | { kind: 'result'; id: number; vectors: Float32Array }
  | { kind: 'error'; id: number; error: string };

interface Pending {
  count: number;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

export class OnnxDirEmbedder implements Embedder {
  /** `onnx:<directory name>` (a Hugging Face cache snapshot is named `org/name`). */
  readonly model: string;
  readonly #config: OnnxDirConfig;
  #info: OnnxDirModelInfo | undefined;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(config: OnnxDirConfigInput) {
    this.#config = onnxDirConfigSchema.parse(config);
    this.model = `onnx:${modelDirName(this.#config.path)}`;
  }

  /** 0 until `init()` has loaded the model. */
  get dimension(): number {
    return this.#info?.dimension ?? 0;
  }

  /** What the model directory and graph turned out to be (after `init()`). */
  get info(): OnnxDirModelInfo | undefined {
    return this.#info;
  }

  /**
   * Validates the directory (throws `invalid_request` naming a missing or broken file), then starts
   * the worker, which loads the tokenizer and session and embeds once to check the dimension.
   */
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
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#starting ??= this.#spawn().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #spawn(): Promise<Worker> {
    const dir = await loadModelDir(this.#config.path);
    if (this.#closed) throw this.#closedError();
    const init: WorkerInit = {
      engramOnnxDirWorker: true,
      dir,
      intraOpNumThreads: this.#config.threads ?? availableParallelism(),
      maxBatchSize: this.#config.maxBatchSize,
      prefix: this.#config.prefix,
    };
    const worker = createWorker(init);
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      const fail = (error: Error) => {
        const wrapped =
          error instanceof EngramError
            ? error
            : new EngramError('unavailable', this.#failure(error.message), { cause: error });
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
            this.#info = message.info;
            this.#worker = worker;
            worker.unref();
            resolve(worker);
            return;
          case 'failed':
            // Problems with the directory or the graph keep their code (invalid_request).
            fail(
              message.code === 'invalid_request'
                ? new EngramError('invalid_request', message.error)
                : new Error(message.error),
            );
            return;
          case 'result':
            this.#settle(message.id, (p) => {
              try {
                p.resolve(this.#split(message.vectors, p.count));
              } catch (error) {
                p.reject(error);
              }
            });
            return;
          case 'error':
            this.#settle(message.id, (p) => p.reject(new EngramError('unavailable', this.#failure(message.error))));
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
    action(pending);
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
    const dimension = this.dimension;
    if (flat.length !== count * dimension) {
      throw new EngramError('internal', `the ${this.model} worker returned ${flat.length} values for ${count} texts`);
    }
    return Array.from({ length: count }, (_, i) => flat.slice(i * dimension, (i + 1) * dimension));
  }

  #failure(message: string): string {
    return `the ${this.model} embedder failed: ${message}`;
  }

  #closedError(): EngramError {
    return new EngramError('unavailable', `the ${this.model} embedder is closed`);
  }
}

export function createOnnxDirEmbedder(config: OnnxDirConfigInput): OnnxDirEmbedder {
  return new OnnxDirEmbedder(config);
}

/**
 * Compiled, this module (`.js`) is the worker's entry. Under vitest/tsx it is a `.ts` file, which a
 * worker cannot start from on Node 20, so a two-line CommonJS entry registers tsx's require hook
 * and requires this file through it (the same arrangement as the USE ONNX embedder).
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

export interface OnnxDirPipeline {
  readonly dir: ModelDir;
  readonly tokenizer: TextTokenizer;
  readonly session: OnnxSession;
  readonly info: OnnxDirModelInfo;
  readonly maxBatchSize: number;
  readonly prefix: string;
}

export interface OnnxDirPipelineOptions {
  intraOpNumThreads?: number;
  maxBatchSize?: number;
  prefix?: string;
}

/**
 * Loads the tokenizer and an ONNX session on this thread, checks the graph's inputs and outputs
 * against the directory's modules, and embeds one text to learn and check the vector length.
 */
export async function createOnnxDirPipeline(
  dir: ModelDir,
  options: OnnxDirPipelineOptions = {},
): Promise<OnnxDirPipeline> {
  const tokenizer = await loadTokenizer(dir);
  const { createSession } = await loadSessionModule();
  let session: OnnxSession;
  try {
    session = await createSession(dir.modelFile, {
      intraOpNumThreads: options.intraOpNumThreads ?? availableParallelism(),
    });
  } catch (error) {
    throw invalidDir(dir, `the ONNX model cannot be loaded: ${messageOf(error)}`);
  }
  try {
    const inputs = session.inputNames.filter((name) => KNOWN_INPUTS.has(name));
    const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.has(name));
    if (unknown.length > 0)
      throw invalidDir(dir, `the ONNX model needs inputs this embedder cannot feed: ${unknown.join(', ')}`);
    if (!inputs.includes('input_ids')) throw invalidDir(dir, 'the ONNX model has no input_ids input');

    const pooledOutput = session.outputNames.includes(POOLED_OUTPUT);
    const output = pooledOutput
      ? POOLED_OUTPUT
      : (TOKEN_OUTPUTS.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0]);
    if (output === undefined) throw invalidDir(dir, 'the ONNX model has no outputs');

    const partial: OnnxDirPipeline = {
      dir,
      tokenizer,
      session,
      maxBatchSize: options.maxBatchSize ?? 32,
      prefix: options.prefix ?? '',
      info: {
        dimension: 0,
        maxLength: tokenizer.maxLength,
        inputs,
        output,
        pooled: pooledOutput,
        pooling: [],
        normalize: dir.normalize,
      },
    };
    // One run settles whether the output is per token (rank 3) or per text (rank 2), and its width.
    const probe = await runBatch(partial, [tokenizer.encode(WARM_TEXT)], undefined);
    const pooled = probe.pooled;
    const dimension = probe.width * (pooled ? 1 : (dir.pooling?.modes.length ?? 1));
    if (!pooled) {
      if (!dir.pooling)
        throw invalidDir(dir, `modules.json has no Pooling module and the model output ${output} is per token`);
      if (dir.unsupportedModules.length > 0) {
        throw invalidDir(
          dir,
          `modules.json lists ${dir.unsupportedModules.join(', ')}, which this embedder cannot apply; ` +
            `use an ONNX export whose graph ends in ${POOLED_OUTPUT}`,
        );
      }
      if (probe.width !== dir.hiddenSize) {
        throw invalidDir(
          dir,
          `the model output ${output} has ${probe.width} values per token, config.json hidden_size is ${dir.hiddenSize}`,
        );
      }
    } else if (dir.expectedDimension !== undefined && dimension !== dir.expectedDimension) {
      throw invalidDir(
        dir,
        `the model output ${output} has ${dimension} values per text, the modules imply ${dir.expectedDimension}`,
      );
    }
    return {
      ...partial,
      info: { ...partial.info, dimension, pooled, pooling: pooled ? [] : [...(dir.pooling?.modes ?? [])] },
    };
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * Embeds texts on the calling thread: prefix, tokenise (truncating), sort by token count, run in
 * batches of up to `maxBatchSize`, pool, normalise if configured, restore the input order.
 * Returns the vectors flat: [texts × dimension].
 */
export async function runOnnxDirPipeline(pipeline: OnnxDirPipeline, texts: readonly string[]): Promise<Float32Array> {
  const { dimension } = pipeline.info;
  const out = new Float32Array(new ArrayBuffer(texts.length * dimension * 4));
  const encodings = texts.map((text) => pipeline.tokenizer.encode(pipeline.prefix + text));
  const order = encodings.map((_, i) => i).sort((a, b) => lengthOf(encodings, a) - lengthOf(encodings, b));
  for (let start = 0; start < order.length; start += pipeline.maxBatchSize) {
    const rows = order.slice(start, start + pipeline.maxBatchSize);
    const result = await runBatch(
      pipeline,
      rows.map((i) => encodings[i] as (typeof encodings)[number]),
      rows.map((i) => out.subarray(i * dimension, (i + 1) * dimension)),
    );
    if (result.width * (result.pooled ? 1 : (pipeline.dir.pooling?.modes.length ?? 1)) !== dimension) {
      throw new Error(`the model output changed width: ${result.width}`);
    }
  }
  return out;
}

type SessionModule = typeof import('../onnx/session.js');

/**
 * session.ts loads onnxruntime's native binding as it is imported, so it is imported only where a
 * model runs: loading this module (e.g. through the embedder registry) on a thread that only posts
 * texts must not need the native runtime. In a worker started under tsx (tests), this file runs
 * through tsx's CommonJS hook, where `import()` would bypass tsx; there `require` resolves the .ts.
 */
async function loadSessionModule(): Promise<SessionModule> {
  const data: unknown = isMainThread ? undefined : workerData;
  if (isWorkerInit(data) && data.tsx !== undefined) {
    return createRequire(import.meta.url)('../onnx/session.ts') as SessionModule;
  }
  return import('../onnx/session.js');
}

function lengthOf(encodings: readonly { ids: number[] }[], i: number): number {
  return (encodings[i] as { ids: number[] }).ids.length;
}

/**
 * Pads one batch (right padding, mask 0), runs the model and, when `targets` is given, writes each
 * row's pooled (and normalised, if configured) vector into its target.
 */
async function runBatch(
  pipeline: OnnxDirPipeline,
  batch: readonly { ids: number[]; typeIds: number[] }[],
  targets: readonly Float32Array[] | undefined,
): Promise<{ pooled: boolean; width: number }> {
  const { info, tokenizer, dir } = pipeline;
  const rows = batch.length;
  // At least one position, so a text with no tokens at all still runs (and pools to zeros).
  const seqLength = Math.max(1, ...batch.map((e) => e.ids.length));
  const size = rows * seqLength;
  const inputIds = new BigInt64Array(size).fill(BigInt(tokenizer.padId));
  const attention = new BigInt64Array(size);
  const typeIds = new BigInt64Array(size);
  const mask = new Uint8Array(size);
  batch.forEach((encoding, r) => {
    const offset = r * seqLength;
    encoding.ids.forEach((id, t) => {
      inputIds[offset + t] = BigInt(id);
      attention[offset + t] = 1n;
      typeIds[offset + t] = BigInt(encoding.typeIds[t] ?? 0);
      mask[offset + t] = 1;
    });
  });
  const dims = [rows, seqLength];
  const feeds: Feeds = {};
  for (const name of info.inputs) {
    if (name === 'input_ids') feeds[name] = { type: 'int64', data: inputIds, dims };
    else if (name === 'attention_mask') feeds[name] = { type: 'int64', data: attention, dims };
    else if (name === 'token_type_ids') feeds[name] = { type: 'int64', data: typeIds, dims };
    else if (name === 'position_ids') {
      feeds[name] = {
        type: 'int64',
        data: BigInt64Array.from({ length: size }, (_, i) => BigInt(i % seqLength)),
        dims,
      };
    }
  }
  const result = await pipeline.session.run(feeds, [info.output]);
  const output = result[info.output];
  if (output?.type !== 'float32') throw new Error(`model output ${info.output} is ${output?.type}, not float32`);
  const shape = output.dims;
  let pooled: boolean;
  if (shape.length === 3 && shape[0] === rows && shape[1] === seqLength) pooled = false;
  else if (shape.length === 2 && shape[0] === rows) pooled = true;
  else
    throw invalidDir(
      dir,
      `unexpected shape [${shape.join(', ')}] of model output ${info.output} for a [${rows}, ${seqLength}] batch`,
    );
  const width = shape[shape.length - 1] as number;
  if (!targets) return { pooled, width };

  const modes = dir.pooling?.modes ?? [];
  targets.forEach((target, r) => {
    if (pooled) target.set(output.data.subarray(r * width, (r + 1) * width));
    else poolRow(output.data, { batch: rows, seqLength, hidden: width }, mask, r, modes, target);
    if (info.normalize) normalise(target);
  });
  return { pooled, width };
}

function invalidDir(dir: ModelDir, message: string): EngramError {
  return new EngramError('invalid_request', `ONNX model directory ${dir.path}: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Worker entry: runs only in a thread started by `createWorker` above.

function isWorkerInit(data: unknown): data is WorkerInit {
  return typeof data === 'object' && data !== null && (data as Partial<WorkerInit>).engramOnnxDirWorker === true;
}

async function serveWorker(init: WorkerInit): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Stdout belongs to stdio MCP and a worker's stdout is piped into the process's.
  console.log = console.info = console.debug = console.error;
  let pipeline: OnnxDirPipeline;
  try {
    pipeline = await createOnnxDirPipeline(init.dir, init);
  } catch (error) {
    const code = error instanceof EngramError ? error.code : undefined;
    port.postMessage({ kind: 'failed', error: messageOf(error), code } satisfies WorkerMessage);
    return;
  }
  // One request at a time, in arrival order; each uses the whole intra-op thread pool.
  let queue = Promise.resolve();
  port.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
    queue = queue.then(async () => {
      try {
        const vectors = await runOnnxDirPipeline(pipeline, texts);
        port.postMessage({ kind: 'result', id, vectors } satisfies WorkerMessage, [vectors.buffer as ArrayBuffer]);
      } catch (error) {
        port.postMessage({ kind: 'error', id, error: messageOf(error) } satisfies WorkerMessage);
      }
    });
  });
  port.postMessage({ kind: 'ready', info: pipeline.info } satisfies WorkerMessage);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (!isMainThread && isWorkerInit(workerData)) void serveWorker(workerData);
