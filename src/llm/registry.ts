import { EngramError } from '../core/errors.js';
import { AnthropicChat } from './anthropic-chat.js';
import type { ChatModel } from './llm.js';
import { OpenAiChat } from './openai-chat.js';

/** The `llm.*` settings every provider is built from (`config.llm`). */
export interface ChatModelSettings {
  /** The provider's own default when omitted. */
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  concurrency: number;
  temperature: number;
}

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** Every chat provider by name. Adding one here adds it to `ENGRAM_LLM_PROVIDER` and `createChatModel`. */
export const chatProviders = {
  openai: (settings: ChatModelSettings): ChatModel =>
    new OpenAiChat({ ...settings, baseUrl: settings.baseUrl ?? OPENAI_DEFAULT_BASE_URL }),
  anthropic: ({ apiKey, temperature: _unused, ...settings }: ChatModelSettings): ChatModel => {
    if (!apiKey) throw new EngramError('invalid_request', 'the anthropic LLM provider needs ENGRAM_LLM_API_KEY');
    return new AnthropicChat({ ...settings, apiKey });
  },
} as const;

export type ChatProviderName = keyof typeof chatProviders;

/** For `z.enum(LLM_PROVIDER_NAMES)` in the app config: `none` (generation off) and every provider. */
export const LLM_PROVIDER_NAMES = ['none', ...Object.keys(chatProviders)] as ['none', ...ChatProviderName[]];

export function createChatProvider(name: ChatProviderName, settings: ChatModelSettings): ChatModel {
  return chatProviders[name](settings);
}
