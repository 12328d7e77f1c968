import type { Config } from './config.js';
import { MemoryService } from './core/memory-service.js';
import { createEmbedder } from './embed/registry.js';
import type { Embedder } from './embed/embedder.js';
import { createStore } from './stores/registry.js';
import type { MemoryStore } from './stores/store.js';

/** Builds the store and embedder a config names (not yet initialised). */
export function buildParts(config: Config): { store: MemoryStore; embedder: Embedder } {
  const store = createStore(config.store, { dataDir: config.dataDir, sqlite: config.sqlite });
  const embedder =
    config.embedder === 'use'
      ? createEmbedder('use', { threads: config.embed.threads }, { cacheSize: config.embed.cacheSize })
      : createEmbedder('openai', config.openai, { cacheSize: config.embed.cacheSize });
  return { store, embedder };
}

/** Opens the configured store and embedder and returns a ready MemoryService. */
export async function openService(config: Config): Promise<MemoryService> {
  const { store, embedder } = buildParts(config);
  const service = new MemoryService({ store, embedder, search: { ...config.search, k: config.search.rrfK } });
  try {
    await service.init();
  } catch (error) {
    await service.close().catch(() => undefined);
    throw error;
  }
  return service;
}
