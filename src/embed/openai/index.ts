export type { OpenAiConfig, OpenAiConfigInput } from './openai-embedder.js';
export { createOpenAiEmbedder, OpenAiEmbedder, openAiConfigSchema } from './openai-embedder.js';
