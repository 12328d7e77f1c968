import { z } from 'zod';
import { backend, build, type OptionsInput, type OptionsOutput } from '../util/registry.js';
import { CachedEmbedder } from './cache.js';
import type { Embedder } from './embedder.js';
import { createOnnxDirEmbedder, onnxDirConfigSchema } from './onnx-dir/index.js';
import { createOpenAiEmbedder, openAiConfigSchema } from './openai/index.js';
import { type EmbedQueueOptions, QueuedEmbedder } from './queue.js';
import { SharedCacheEmbedder, type SharedCacheOptions } from './shared-cache.js';
import { createUse, useSelectConfigSchema } from './use/select.js';

/**
 * Every embedder by name, each with the options it takes and how it is built. Adding one here
 * adds it to the config enum and `createEmbedder`.
 */
export const embedders = {
  use: backend(useSelectConfigSchema, createUse),
  openai: backend(openAiConfigSchema, createOpenAiEmbedder),
  onnx: backend(
    onnxDirConfigSchema.extend({ path: z.string({ error: 'a model directory is required' }).min(1) }),
    createOnnxDirEmbedder,
  ),
} as const;

export type EmbedderName = keyof typeof embedders;

/** For `z.enum(embedderNames)` in the app config. */
export const embedderNames = Object.keys(embedders) as [EmbedderName, ...EmbedderName[]];

/** What a caller may pass (defaults optional). */
export type EmbedderConfigInput<N extends EmbedderName> = OptionsInput<typeof embedders, N>;
/** What the factory receives (defaults filled in). */
export type EmbedderConfig<N extends EmbedderName> = OptionsOutput<typeof embedders, N>;

export interface CreateEmbedderOptions {
  /** Vectors to keep in an LRU in front of the embedder; 0 (default) disables the cache. */
  cacheSize?: number;
  /** A bounded queue in front of the embedder (behind the caches); none when omitted. */
  queue?: EmbedQueueOptions;
  /** A cache in Redis that replicas share, between the LRU and the queue; none when omitted. */
  shared?: SharedCacheOptions;
}

/** Validates `config` against the named embedder's schema and builds it: LRU → Redis → queue → embedder, as asked. */
export function createEmbedder<N extends EmbedderName>(
  name: N,
  config: EmbedderConfigInput<N>,
  options: CreateEmbedderOptions = {},
): Embedder {
  const built = build<Embedder, typeof embedders, N>(embedders, 'embedder', name, config);
  const queued = options.queue ? new QueuedEmbedder(built, options.queue) : built;
  const embedder = options.shared ? new SharedCacheEmbedder(queued, options.shared) : queued;
  const cacheSize = options.cacheSize ?? 0;
  return cacheSize > 0 ? new CachedEmbedder(embedder, { maxEntries: cacheSize }) : embedder;
}
