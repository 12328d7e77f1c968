/**
 * A thin wrapper around an onnxruntime-node session: explicit options, plain typed-array tensors
 * in and out.
 *
 * Note: onnxruntime-node's `session.run()` returns a promise, but the native call is synchronous
 * (it is only deferred with `setImmediate`). The kernels use a native thread pool, yet the calling
 * thread's event loop is blocked for the whole inference (measured: 320 ms gaps while embedding
 * batches of 64 texts). Anything that must keep an event loop responsive runs its session in a
 * worker thread, as the USE embedder does.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Threads for one operator (the kernels' thread pool); default: `os.availableParallelism()`. */
  intraOpNumThreads?: number;
  /** Threads running independent operators at once; default 1 (sequential execution). */
  interOpNumThreads?: number;
  /** Graph rewrites and fusions before the first run; default `'all'`. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Default `'sequential'`: one operator at a time, each using the intra-op pool. */
  executionMode?: 'sequential' | 'parallel';
  /** onnxruntime's own log level, 0 (verbose) … 4 (fatal); default 3 (errors). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Whether idle intra-op threads spin waiting for work (onnxruntime's default: yes). Spinning
   * shaves latency off small runs on an idle machine, but when other threads need the cores it
   * burns them: measured 128 vs 281 texts/s at batch 1 on a loaded 2-core machine.
   */
  allowSpinning?: boolean;
}

/** A tensor as plain data: the element type, a typed array in row-major order, the shape. */
export type TensorData =
  | { type: 'float32'; data: Float32Array; dims: readonly number[] }
  | { type: 'int64'; data: BigInt64Array; dims: readonly number[] }
  | { type: 'int32'; data: Int32Array; dims: readonly number[] }
  | { type: 'bool'; data: Uint8Array; dims: readonly number[] };

export type Feeds = Record<string, TensorData>;
export type Outputs = Record<string, TensorData>;

/** An inference session on the calling thread. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; `outputs` limits which outputs are computed (default: all). */
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Outputs>;
  /** Frees the native session. Idempotent. */
  release(): Promise<void>;
}

/** The options passed to onnxruntime, with this module's defaults filled in. */
export function resolveSessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.intraOpNumThreads ?? availableParallelism(),
    interOpNumThreads: options.interOpNumThreads ?? 1,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: options.executionMode ?? 'sequential',
    logSeverityLevel: options.logSeverityLevel ?? 3,
    ...(options.allowSpinning === undefined
      ? {}
      : { extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } } }),
  };
}

/** Creates a session on the calling thread from model bytes or a path to a `.onnx` file. */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<OnnxSession> {
  const resolved = resolveSessionOptions(options);
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, resolved)
      : await ort.InferenceSession.create(model, resolved);
  return new LocalSession(session);
}

class LocalSession implements OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  #session: ort.InferenceSession | undefined;

  constructor(session: ort.InferenceSession) {
    this.#session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Outputs> {
    const session = this.#session;
    if (!session) throw new Error('the ONNX session was released');
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = toOrtTensor(t);
    const result = outputs ? await session.run(inputs, [...outputs]) : await session.run(inputs);
    const out: Outputs = {};
    for (const [name, tensor] of Object.entries(result)) out[name] = fromOrtTensor(name, tensor);
    return out;
  }

  async release(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.release();
  }
}

function toOrtTensor(t: TensorData): ort.Tensor {
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== size)
    throw new Error(`tensor data has ${t.data.length} values for shape [${t.dims.join(', ')}]`);
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrtTensor(name: string, tensor: ort.Tensor): TensorData {
  const dims = [...tensor.dims];
  const { data } = tensor;
  if (tensor.type === 'float32' && data instanceof Float32Array) return { type: 'float32', data, dims };
  if (tensor.type === 'int64' && data instanceof BigInt64Array) return { type: 'int64', data, dims };
  if (tensor.type === 'int32' && data instanceof Int32Array) return { type: 'int32', data, dims };
  if (tensor.type === 'bool' && data instanceof Uint8Array) return { type: 'bool', data, dims };
  throw new Error(`output ${name} has unsupported type ${tensor.type}`);
}
