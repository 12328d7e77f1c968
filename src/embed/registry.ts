import { z } from 'zod';
import { EngramError } from '../core/errors.js';
import { CachedEmbedder } from './cache.js';
import type { Embedder } from './embedder.js';
import { createOnnxDirEmbedder, onnxDirConfigSchema } from './onnx-dir/index.js';
import { createOpenAiEmbedder, openAiConfigSchema } from './openai/index.js';
import { type EmbedQueueOptions, QueuedEmbedder } from './queue.js';
import { SharedCacheEmbedder, type SharedCacheOptions } from './shared-cache.js';
import { createUse, useSelectConfigSchema } from './use/select.js';

/** Every embedder by name. Adding one here adds it to the config enum and `createEmbedder`. */
export const embedders = {
  use: createUse,
  openai: createOpenAiEmbedder,
  onnx: createOnnxDirEmbedder,
} as const;

export type EmbedderName = keyof typeof embedders;

/** For `z.enum(embedderNames)` in the app config. */
export const embedderNames = Object.keys(embedders) as [EmbedderName, ...EmbedderName[]];

/** Each embedder's own config schema; defaults are applied by `createEmbedder`. */
export const embedderConfigSchemas = {
  use: useSelectConfigSchema,
  openai: openAiConfigSchema,
  onnx: onnxDirConfigSchema,
} as const satisfies { [N in EmbedderName]: z.ZodType<Parameters<(typeof embedders)[N]>[0]> };

/** What a caller may pass (defaults optional). */
export type EmbedderConfigInput<N extends EmbedderName> = z.input<(typeof embedderConfigSchemas)[N]>;
/** What the factory receives (defaults filled in). */
export type EmbedderConfig<N extends EmbedderName> = z.output<(typeof embedderConfigSchemas)[N]>;

export interface CreateEmbedderOptions {
  /** Vectors to keep in an LRU in front of the embedder; 0 (default) disables the cache. */
  cacheSize?: number;
  /** A bounded queue in front of the embedder (behind the caches); none when omitted. */
  queue?: EmbedQueueOptions;
  /** A cache in Redis that replicas share, between the LRU and the queue; none when omitted. */
  shared?: SharedCacheOptions;
}

// Mapped views of the two tables, so indexing with a generic name keeps schema and factory paired.
const schemas: { [N in EmbedderName]: z.ZodType<EmbedderConfig<N>, EmbedderConfigInput<N>> } = embedderConfigSchemas;
const factories: { [N in EmbedderName]: (config: EmbedderConfig<N>) => Embedder } = embedders;

/** Validates `config` against the named embedder's schema and builds it: LRU → Redis → queue → embedder, as asked. */
export function createEmbedder<N extends EmbedderName>(
  name: N,
  config: EmbedderConfigInput<N>,
  options: CreateEmbedderOptions = {},
): Embedder {
  const parsed = schemas[name].safeParse(config);
  if (!parsed.success) {
    throw new EngramError('invalid_request', `invalid ${name} embedder config: ${z.prettifyError(parsed.error)}`);
  }
  const built = factories[name](parsed.data);
  const queued = options.queue ? new QueuedEmbedder(built, options.queue) : built;
  const embedder = options.shared ? new SharedCacheEmbedder(queued, options.shared) : queued;
  const cacheSize = options.cacheSize ?? 0;
  return cacheSize > 0 ? new CachedEmbedder(embedder, { maxEntries: cacheSize }) : embedder;
}
