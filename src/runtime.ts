import type { Config } from './config.js';
import { MemoryService } from './core/memory-service.js';
import type { SearchOptions } from './core/search.js';
import type { Embedder } from './embed/embedder.js';
import { createEmbedder, type EmbedderConfigInput, type EmbedderName } from './embed/registry.js';
import { createStore } from './stores/registry.js';
import type { MemoryStore } from './stores/store.js';

/** Each embedder's settings, taken from the one config. */
function embedderSettings(config: Config): { [N in EmbedderName]: EmbedderConfigInput<N> } {
  const { path, threads, maxBatchSize, prefix } = config.onnx;
  return {
    use: {
      backend: config.embed.backend,
      ...(config.embed.threads !== undefined && { threads: config.embed.threads }),
    },
    openai: config.openai,
    onnx: { path: path ?? '', maxBatchSize, prefix, ...(threads !== undefined && { threads }) },
  };
}

function buildEmbedder<N extends EmbedderName>(name: N, config: Config): Embedder {
  return createEmbedder(name, embedderSettings(config)[name], {
    cacheSize: config.embed.cacheSize,
    queue: {
      capacity: config.embed.queueSize,
      maxWaitMs: config.embed.queueWaitMs,
      // A remote endpoint gets whole requests; local models get chunks small enough that a query
      // arriving during an import waits for little (see queue.ts).
      ...(name === 'openai' && { chunkSize: config.openai.batchSize }),
    },
  });
}

/** Builds the store and embedder a config names (not yet initialised). */
export function buildParts(config: Config): { store: MemoryStore; embedder: Embedder } {
  const store = createStore(config.store, {
    dataDir: config.dataDir,
    sqlite: config.sqlite,
    postgres: config.postgres,
  });
  return { store, embedder: buildEmbedder(config.embedder, config) };
}

/** The search pipeline's settings from the config. */
export function searchOptions(config: Config): SearchOptions {
  const { rrfK, keywordWeight, vectorWeight, candidates, contextWindow, contextFollowing, contextPreceding } =
    config.search;
  return {
    k: rrfK,
    keywordWeight,
    vectorWeight,
    candidates,
    // The best 30 fused memories (or the result limit, if larger) lend context.
    context: { window: contextWindow, following: contextFollowing, preceding: contextPreceding, sources: 30 },
  };
}

/** Opens the configured store and embedder and returns a ready MemoryService. */
export async function openService(config: Config): Promise<MemoryService> {
  const { store, embedder } = buildParts(config);
  const service = new MemoryService({ store, embedder, search: searchOptions(config) });
  try {
    await service.init();
  } catch (error) {
    await service.close().catch(() => undefined);
    throw error;
  }
  return service;
}
