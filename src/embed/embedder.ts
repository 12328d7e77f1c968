/**
 * The swap point for turning text into vectors. Implementations: `use` (offline default),
 * `openai` (any OpenAI-compatible /v1/embeddings), `onnx` (a local model directory). Cross-cutting
 * behaviour (caching, the bounded queue, fallback) wraps this interface instead of living inside an implementation.
 */
export interface Embedder {
  /** Stable model identifier recorded by stores, e.g. `use-lite-512`. */
  readonly model: string;
  /** Vector length; known after `init()`. */
  readonly dimension: number;
  /** Loads the model / probes the endpoint. Idempotent. */
  init(): Promise<void>;
  /** One unit-length vector per text, in order. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  close(): Promise<void>;
  /** Load on the embedder's bounded queue, when it has one (see queue.ts). */
  readonly queue?: EmbedQueueStats;
  /** The cache replicas share through Redis, when configured (see shared-cache.ts). */
  readonly sharedCache?: SharedCacheStats;
}

/** How a call to `embed` is treated by the layers around the model. */
export interface EmbedOptions {
  /**
   * Whose texts these are: the user id. Caches keep each scope's vectors apart (one user's texts
   * never make another user's request faster: a cache hit is a timing oracle), and the queue takes
   * turns between scopes (one user's flood cannot starve another). Calls without a scope (readiness
   * probes, `engram reindex`) share the scope `''`, which no user request reaches.
   */
  scope?: string;
  /**
   * A search's query: someone is waiting on these few texts. The queue gives queries calls of their
   * own beside other work, and a local model embeds them in a worker of its own (or, with one
   * worker, before bulk work it has not started). Honoured only for requests of a few texts; see
   * queue.ts.
   */
  urgent?: boolean;
}

/** Texts answered by the Redis cache replicas share, texts it did not have, and failed Redis calls. */
export interface SharedCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly errors: number;
}

/** What a bounded embedding queue holds right now (texts) and has refused so far. */
export interface EmbedQueueStats {
  /** Most texts admitted at once. */
  readonly capacity: number;
  /** Texts admitted: being embedded or waiting for the embedder. */
  readonly admittedTexts: number;
  /** Texts in requests waiting for room (back-pressure). */
  readonly waitingTexts: number;
  /** Texts in calls the embedder is running now. */
  readonly runningTexts: number;
  /** Requests refused with `overloaded` since start. */
  readonly rejected: number;
}

/** Scales a vector to unit length in place (zero vectors stay zero) and returns it. */
export function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) ** 2;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
