import { chatOptions } from '../backends.js';
import type { Config } from '../config.js';
import { traced } from '../telemetry/index.js';
import type { ChatModel } from './llm.js';
import { createChatProvider } from './registry.js';

export { AnthropicChat } from './anthropic-chat.js';
export type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatResult,
  LlmStats,
  StructuredOutcome,
  TokenUsage,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from './llm.js';
export { OpenAiChat } from './openai-chat.js';
export { type ChatProviderName, chatProviders, LLM_PROVIDER_NAMES } from './registry.js';
export { generateObject, type StructuredError, type StructuredRequest, type StructuredResult } from './structured.js';

/** The chat model the config names, or null when generation is off (`ENGRAM_LLM_PROVIDER=none`). */
export function createChatModel(config: Config): ChatModel | null {
  const { provider } = config.llm;
  if (provider === 'none') return null;
  const chat = createChatProvider(provider, chatOptions(config, provider));
  // A stream's work happens while it is iterated, after the call returns: it is not a span.
  return traced(chat, 'llm', ['stream', 'recordStructured']);
}
