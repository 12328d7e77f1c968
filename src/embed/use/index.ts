export type { UseConfig, UseConfigInput, UseEmbedderHooks } from './use-embedder.js';
export { createUseEmbedder, USE_MODEL, UseEmbedder, useConfigSchema } from './use-embedder.js';
