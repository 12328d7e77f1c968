/**
 * `onnx`: any local sentence-transformers model directory (bge-small, e5-small, all-MiniLM, …) on
 * onnxruntime-node, tokenised in TypeScript with @huggingface/tokenizers, pooled and normalised as
 * the directory's modules.json says (see model-dir.ts for the layout).
 *
 * Like the USE ONNX embedder, everything heavy runs in one dedicated worker thread (onnx/worker-host.ts) — parsing
 * tokenizer.json, tokenising, inference (onnxruntime-node's `run()` blocks the calling thread's
 * event loop for the whole inference) and pooling. The caller's event loop validates the directory
 * (small JSON files), posts texts and receives vectors. This module is also the worker's entry
 * point (see the bottom).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import { normalise } from '../embedder.js';
import type { Feeds, OnnxSession } from '../onnx/session.js';
import { HostedEmbedder, hostedInit, laneThreads, serveWorker, WorkerHost } from '../onnx/worker-host.js';
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
  /**
   * A second model worker for queries, so a search never waits for a batch of bulk work (which
   * runs at a lower CPU priority); costs a second copy of the model in memory. Off: one worker.
   */
  queryWorker: z.boolean().default(true),
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
  dir: ModelDir;
  intraOpNumThreads: number;
  maxBatchSize: number;
  prefix: string;
}

const WORKER_MARKER = 'onnx-dir';

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

/**
 * `init()` validates the directory (throws `invalid_request` naming a missing or broken file), then
 * starts the worker, which loads the tokenizer and session and embeds once to check the dimension.
 */
export class OnnxDirEmbedder extends HostedEmbedder<OnnxDirModelInfo> {
  /** `onnx:<directory name>` (a Hugging Face cache snapshot is named `org/name`). */
  readonly model: string;
  protected readonly host: WorkerHost<OnnxDirModelInfo>;

  constructor(config: OnnxDirConfigInput) {
    super();
    const parsed = onnxDirConfigSchema.parse(config);
    this.model = `onnx:${modelDirName(parsed.path)}`;
    this.host = new WorkerHost<OnnxDirModelInfo>({
      label: this.model,
      entry: import.meta.url,
      marker: WORKER_MARKER,
      queryWorker: parsed.queryWorker,
      dimension: (info) => info.dimension,
      init: async (lane): Promise<WorkerInit> => ({
        dir: await loadModelDir(parsed.path),
        intraOpNumThreads: laneThreads(lane, parsed.threads ?? availableParallelism()),
        maxBatchSize: parsed.maxBatchSize,
        prefix: parsed.prefix,
      }),
    });
  }

  /** 0 until `init()` has loaded the model. */
  get dimension(): number {
    return this.host.info?.dimension ?? 0;
  }

  /** What the model directory and graph turned out to be (after `init()`). */
  get info(): OnnxDirModelInfo | undefined {
    return this.host.info;
  }
}

export function createOnnxDirEmbedder(config: OnnxDirConfigInput): OnnxDirEmbedder {
  return new OnnxDirEmbedder(config);
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

/**
 * session.ts loads onnxruntime's native binding as it is imported, so it is imported only where a
 * model runs: loading this module (e.g. through the embedder registry) on a thread that only posts
 * texts must not need the native runtime.
 */
function loadSessionModule(): Promise<typeof import('../onnx/session.js')> {
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function invalidDir(dir: ModelDir, message: string): EngramError {
  return new EngramError('invalid_request', `ONNX model directory ${dir.path}: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Worker entry: runs only in a thread started by the WorkerHost above.

const hosted = hostedInit<WorkerInit>(WORKER_MARKER);
if (hosted) {
  void serveWorker(async () => {
    const pipeline = await createOnnxDirPipeline(hosted.dir, hosted);
    return { info: pipeline.info, run: (texts) => runOnnxDirPipeline(pipeline, texts) };
  });
}
