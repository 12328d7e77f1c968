import { z } from 'zod';
import { backend, build, type OptionsInput } from '../util/registry.js';
import { AnthropicChat } from './anthropic-chat.js';
import type { ChatModel } from './llm.js';
import { OpenAiChat } from './openai-chat.js';

/** The `llm.*` settings every provider is built from (`config.llm`). */
const chatSettings = z.strictObject({
  /** The provider's own default when omitted. */
  baseUrl: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  model: z.string().min(1),
  timeoutMs: z.number().int().min(1),
  maxRetries: z.number().int().min(0),
  concurrency: z.number().int().min(1),
  temperature: z.number().min(0).max(2),
});

export type ChatModelSettings = z.input<typeof chatSettings>;

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/**
 * Every chat provider by name, each with the settings it takes and how it is built. Adding one
 * here adds it to `ENGRAM_LLM_PROVIDER` and `createChatProvider`.
 */
export const chatProviders = {
  openai: backend(
    chatSettings,
    (settings): ChatModel => new OpenAiChat({ ...settings, baseUrl: settings.baseUrl ?? OPENAI_DEFAULT_BASE_URL }),
  ),
  anthropic: backend(
    chatSettings.extend({ apiKey: z.string({ error: 'an API key is required' }).min(1) }),
    // The Messages API takes no temperature.
    ({ temperature: _unused, ...settings }): ChatModel => new AnthropicChat(settings),
  ),
} as const;

export type ChatProviderName = keyof typeof chatProviders;

/** For `z.enum(LLM_PROVIDER_NAMES)` in the app config: `none` (generation off) and every provider. */
export const LLM_PROVIDER_NAMES = ['none', ...Object.keys(chatProviders)] as ['none', ...ChatProviderName[]];

/** Validates the settings against the named provider's schema and builds it. */
export function createChatProvider<N extends ChatProviderName>(
  name: N,
  settings: OptionsInput<typeof chatProviders, N>,
): ChatModel {
  return build<ChatModel, typeof chatProviders, N>(chatProviders, 'LLM provider', name, settings);
}
