import Anthropic from '@anthropic-ai/sdk';
import type {
  ToolChoice as AnthropicToolChoice,
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  Tool,
} from '@anthropic-ai/sdk/resources/messages';
import type { EngramError } from '../core/errors.js';
import type {
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
} from './llm.js';
import { LlmMeter, llmError } from './meter.js';

export interface AnthropicChatOptions {
  /** e.g. a proxy; the SDK's default (https://api.anthropic.com) when omitted. */
  baseUrl?: string | undefined;
  apiKey: string;
  model: string;
  timeoutMs: number;
  /** Retries of a failed call (429, 5xx, 529 overloaded, timeouts), with the SDK's exponential back-off. */
  maxRetries: number;
  /** Calls in flight at once; more wait. */
  concurrency: number;
  /** `max_tokens`, which the Messages API requires, when a request names none. */
  maxTokens?: number;
}

/** Anthropic's `max_tokens` is required; this leaves room for long answers without a config knob. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4_096;

/**
 * Claude through the official `@anthropic-ai/sdk` and the Messages API: system messages go to
 * `system`, tool calls to `tool_use` blocks and tool results to `tool_result` blocks in a user
 * turn. Timeouts, retries with back-off and streaming are the SDK's; calls beyond `concurrency`
 * wait their turn. `ChatRequest.temperature` is not sent: the current Messages API has none.
 */
export class AnthropicChat implements ChatModel {
  readonly model: string;
  readonly #client: Anthropic;
  readonly #meter: LlmMeter;
  readonly #maxTokens: number;
  readonly #apiKey: string;

  constructor(options: AnthropicChatOptions) {
    this.model = options.model;
    this.#apiKey = options.apiKey;
    this.#client = new Anthropic({
      // `null`, not undefined: the SDK would otherwise read ANTHROPIC_BASE_URL; the config decides.
      baseURL: options.baseUrl ?? null,
      apiKey: options.apiKey,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
    this.#meter = new LlmMeter(options.concurrency);
    this.#maxTokens = options.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS;
  }

  get stats(): LlmStats {
    return this.#meter.stats;
  }

  recordStructured(outcome: StructuredOutcome): void {
    this.#meter.structured(outcome);
  }

  chat(request: ChatRequest): Promise<ChatResult> {
    return this.#meter.run(
      async () => {
        const message = await this.#client.messages.create(
          { ...this.#params(request), stream: false },
          { ...(request.signal && { signal: request.signal }) },
        );
        let content = '';
        const toolCalls: ToolCall[] = [];
        for (const block of message.content) {
          if (block.type === 'text') content += block.text;
          else if (block.type === 'tool_use') {
            toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
          }
        }
        const result: ChatResult = {
          content: content === '' ? null : content,
          toolCalls,
          usage: {
            promptTokens: promptTokens(message.usage),
            completionTokens: message.usage.output_tokens,
          },
        };
        this.#meter.used(result.usage);
        return result;
      },
      (error) => this.#error(error),
    );
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    // The slot is held for the whole stream: a stream is one call in flight.
    const release = await this.#meter.acquire();
    this.#meter.started();
    try {
      const stream = await this.#client.messages.create(
        { ...this.#params(request), stream: true },
        { ...(request.signal && { signal: request.signal }) },
      );
      let content = '';
      const calls = new Map<number, ToolCall>();
      const usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
      for await (const event of stream) {
        switch (event.type) {
          case 'message_start':
            usage.promptTokens = promptTokens(event.message.usage);
            usage.completionTokens = event.message.usage.output_tokens;
            break;
          case 'content_block_start':
            if (event.content_block.type === 'tool_use') {
              calls.set(event.index, { id: event.content_block.id, name: event.content_block.name, arguments: '' });
            }
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta') {
              content += event.delta.text;
              yield { type: 'delta', text: event.delta.text };
            } else if (event.delta.type === 'input_json_delta') {
              const call = calls.get(event.index);
              if (call) call.arguments += event.delta.partial_json;
            }
            break;
          case 'message_delta':
            // Cumulative counts: the last one is the total (input tokens are not always repeated here).
            usage.completionTokens = event.usage.output_tokens;
            if (typeof event.usage.input_tokens === 'number') usage.promptTokens = promptTokens(event.usage);
            break;
          default:
            break;
        }
      }
      // A tool called without arguments streams no input_json_delta at all.
      const toolCalls = [...calls.values()].map((call) =>
        call.arguments === '' ? { ...call, arguments: '{}' } : call,
      );
      const result: ChatResult = { content: content === '' ? null : content, toolCalls, usage };
      this.#meter.used(result.usage);
      yield { type: 'done', result };
    } catch (error) {
      this.#meter.failed();
      throw this.#error(error);
    } finally {
      release();
    }
  }

  #params(request: ChatRequest): MessageCreateParamsBase {
    const system = request.messages
      .filter((message) => message.role === 'system')
      .map((message) => message.content)
      .join('\n\n');
    const tools = request.tools ?? [];
    return {
      model: this.model,
      max_tokens: request.maxTokens ?? this.#maxTokens,
      messages: toAnthropic(request.messages),
      ...(system !== '' && { system }),
      ...(tools.length > 0 && {
        tools: tools.map(
          (tool): Tool => ({
            name: tool.name,
            description: tool.description,
            input_schema: { ...tool.parameters, type: 'object' },
          }),
        ),
      }),
      ...(tools.length > 0 && request.toolChoice !== undefined && { tool_choice: toToolChoice(request.toolChoice) }),
      // No temperature: the Messages API (version 2026-10-21, which this SDK speaks) takes none.
    };
  }

  #error(error: unknown): EngramError {
    const status = error instanceof Anthropic.APIError ? (error.status ?? null) : undefined;
    return llmError(error, this.model, status, this.#apiKey);
  }
}

/** Everything sent: input tokens plus those written to and read from the prompt cache. */
function promptTokens(usage: {
  input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  cache_read_input_tokens: number | null;
}): number {
  return (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

/**
 * OpenAI-shaped messages as Anthropic turns: system messages leave (they go to `system`), a tool
 * result becomes a `tool_result` block in a user turn, and neighbouring turns of one role are
 * merged, so the results of one assistant turn's tool calls arrive together, as the API requires.
 */
function toAnthropic(messages: ChatMessage[]): MessageParam[] {
  const turns: { role: 'user' | 'assistant'; content: ContentBlockParam[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        break;
      case 'user':
        push('user', message.content === '' ? [] : [{ type: 'text', text: message.content }]);
        break;
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: message.toolCallId, content: message.content }]);
        break;
      case 'assistant':
        push('assistant', [
          ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
          ...(message.toolCalls ?? []).map((call) => ({
            type: 'tool_use' as const,
            id: call.id,
            name: call.name,
            input: parseInput(call.arguments),
          })),
        ]);
        break;
    }
  }
  return turns;
}

/** A tool call's arguments as the object Anthropic wants back; malformed ones (already answered with an error) as `{}`. */
function parseInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function toToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  return { type: 'tool', name: choice.name };
}
