/**
 * Universal Sentence Encoder lite on onnxruntime-node (native, multi-threaded CPU kernels).
 *
 * Same model as the TF.js `use` embedder — the ONNX graph is rebuilt at start-up from the npm
 * package's own weights and topology (`use-onnx-graph.ts`) — so it has the same model id and its
 * vectors match TF.js's (cosine ≥ 0.999, tested); stores need no reindex when switching.
 *
 * Everything heavy runs in one dedicated worker thread (see onnx/worker-host.ts): loading the
 * weights and building the graph, tokenising (linear-time, `use-tokenize.ts`: ~0.2 ms for a
 * 200-word text), and inference (onnxruntime-node's `run()` blocks the calling thread's event
 * loop for the whole inference). The caller's event loop only posts texts and receives vectors.
 * This module is also that worker's entry point (see the bottom).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { normalise } from '../embedder.js';
import type { OnnxSession, SessionOptions } from '../onnx/session.js';
import { HostedEmbedder, hostedInit, laneThreads, serveWorker, WorkerHost } from '../onnx/worker-host.js';
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
  /**
   * A second model worker for queries, so a search never waits for a batch of bulk work (which
   * runs at a lower CPU priority); costs a second copy of the model in memory. Off: one worker.
   */
  queryWorker: z.boolean().default(true),
});
export type UseOnnxConfig = z.output<typeof useOnnxConfigSchema>;
export type UseOnnxConfigInput = z.input<typeof useOnnxConfigSchema>;

/** Data the worker is started with. */
interface WorkerInit {
  modelDir: string;
  intraOpNumThreads: number;
  maxBatchSize: number;
  allowSpinning: boolean;
}

const WORKER_MARKER = 'use-onnx';

export class UseOnnxEmbedder extends HostedEmbedder<UseArchitecture> {
  readonly model = USE_ONNX_MODEL;
  readonly dimension = DIMENSION;
  protected readonly host: WorkerHost<UseArchitecture>;

  constructor(config: UseOnnxConfigInput = {}) {
    super();
    const parsed = useOnnxConfigSchema.parse(config);
    this.host = new WorkerHost<UseArchitecture>({
      label: `${USE_ONNX_MODEL} ONNX`,
      entry: import.meta.url,
      marker: WORKER_MARKER,
      queryWorker: parsed.queryWorker,
      dimension: () => DIMENSION,
      init: (lane): WorkerInit => ({
        modelDir: useModelDir(),
        intraOpNumThreads: laneThreads(lane, parsed.threads ?? availableParallelism()),
        maxBatchSize: parsed.maxBatchSize,
        allowSpinning: parsed.spin,
      }),
    });
  }

  /** The architecture read from the TF graph (after `init()`). */
  get architecture(): UseArchitecture | undefined {
    return this.host.info;
  }
}

export function createUseOnnxEmbedder(config: UseOnnxConfigInput = {}): UseOnnxEmbedder {
  return new UseOnnxEmbedder(config);
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
 * still import this module and fall back), and the tokenizer pulls in TF.js core.
 */
async function loadRuntime(): Promise<Runtime> {
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
// Worker entry: runs only in a thread started by the WorkerHost above.

const hosted = hostedInit<WorkerInit>(WORKER_MARKER);
if (hosted) {
  void serveWorker(async () => {
    const pipeline = await createUseOnnxPipeline({
      modelDir: hosted.modelDir,
      maxBatchSize: hosted.maxBatchSize,
      intraOpNumThreads: hosted.intraOpNumThreads,
      allowSpinning: hosted.allowSpinning,
    });
    await runUseOnnxPipeline(pipeline, ['warm up the model']);
    return { info: pipeline.architecture, run: (texts) => runUseOnnxPipeline(pipeline, texts) };
  });
}
