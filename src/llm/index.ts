import type { Config } from '../config.js';
import type { ChatModel } from './llm.js';
import { OpenAiChat } from './openai-chat.js';

export type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatResult,
  LlmStats,
  ToolCall,
  ToolSpec,
} from './llm.js';
export { OpenAiChat } from './openai-chat.js';

/** The chat model the config names, or null when generation is off (`ENGRAM_LLM_PROVIDER=none`). */
export function createChatModel(config: Config): ChatModel | null {
  const { provider, baseUrl, apiKey, model, timeoutMs, maxRetries, concurrency, temperature } = config.llm;
  if (provider === 'none') return null;
  return new OpenAiChat({ baseUrl, apiKey, model, timeoutMs, maxRetries, concurrency, temperature });
}
