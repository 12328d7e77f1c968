import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions/completions';
import pLimit, { type LimitFunction } from 'p-limit';
import { EngramError } from '../core/errors.js';
import type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatResult,
  LlmStats,
  ToolCall,
  ToolSpec,
} from './llm.js';

export interface OpenAiChatOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  model: string;
  timeoutMs: number;
  /** Retries of a failed call (429, 5xx, timeouts), with the SDK's exponential back-off. */
  maxRetries: number;
  /** Calls in flight at once; more wait. */
  concurrency: number;
  temperature: number;
}

/**
 * Any OpenAI-compatible chat endpoint, through the official `openai` SDK (timeouts, retries with
 * back-off on 429/5xx, streaming). Calls beyond `concurrency` wait their turn.
 */
export class OpenAiChat implements ChatModel {
  readonly model: string;
  readonly #client: OpenAI;
  readonly #limit: LimitFunction;
  readonly #temperature: number;
  #stats = { requests: 0, failures: 0, promptTokens: 0, completionTokens: 0 };

  constructor(options: OpenAiChatOptions) {
    this.model = options.model;
    this.#client = new OpenAI({
      baseURL: options.baseUrl,
      // Local servers (Ollama, vLLM) take any key; the SDK insists on one.
      apiKey: options.apiKey ?? 'not-needed',
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
    this.#limit = pLimit(options.concurrency);
    this.#temperature = options.temperature;
  }

  get stats(): LlmStats {
    return { ...this.#stats };
  }

  chat(request: ChatRequest): Promise<ChatResult> {
    return this.#limit(async () => {
      this.#stats.requests++;
      try {
        const completion = await this.#client.chat.completions.create(
          {
            model: this.model,
            messages: request.messages.map(toOpenAi),
            ...(request.tools?.length && { tools: request.tools.map(toTool) }),
            temperature: request.temperature ?? this.#temperature,
            ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
          },
          { ...(request.signal && { signal: request.signal }) },
        );
        const message = completion.choices[0]?.message;
        if (!message) throw new EngramError('unavailable', `the LLM (${this.model}) returned no choices`);
        const result: ChatResult = {
          content: message.content ?? null,
          toolCalls: (message.tool_calls ?? []).flatMap((call) =>
            call.type === 'function'
              ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
              : [],
          ),
          usage: {
            promptTokens: completion.usage?.prompt_tokens ?? 0,
            completionTokens: completion.usage?.completion_tokens ?? 0,
          },
        };
        this.#count(result);
        return result;
      } catch (error) {
        this.#stats.failures++;
        throw asEngramError(error, this.model);
      }
    });
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    // The slot is held for the whole stream: a stream is one call in flight.
    const release = await this.#acquire();
    this.#stats.requests++;
    try {
      const stream = await this.#client.chat.completions.create(
        {
          model: this.model,
          messages: request.messages.map(toOpenAi),
          ...(request.tools?.length && { tools: request.tools.map(toTool) }),
          temperature: request.temperature ?? this.#temperature,
          ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
          stream: true,
          stream_options: { include_usage: true },
        },
        { ...(request.signal && { signal: request.signal }) },
      );
      let content = '';
      const calls = new Map<number, ToolCall>();
      const usage = { promptTokens: 0, completionTokens: 0 };
      for await (const chunk of stream) {
        if (chunk.usage) {
          usage.promptTokens = chunk.usage.prompt_tokens;
          usage.completionTokens = chunk.usage.completion_tokens;
        }
        const delta = chunk.choices[0]?.delta;
        if (!delta) continue;
        if (delta.content) {
          content += delta.content;
          yield { type: 'delta', text: delta.content };
        }
        for (const part of delta.tool_calls ?? []) {
          const call = calls.get(part.index) ?? { id: '', name: '', arguments: '' };
          if (part.id) call.id = part.id;
          if (part.function?.name) call.name += part.function.name;
          if (part.function?.arguments) call.arguments += part.function.arguments;
          calls.set(part.index, call);
        }
      }
      const result: ChatResult = { content: content === '' ? null : content, toolCalls: [...calls.values()], usage };
      this.#count(result);
      yield { type: 'done', result };
    } catch (error) {
      this.#stats.failures++;
      throw asEngramError(error, this.model);
    } finally {
      release();
    }
  }

  /** Takes a concurrency slot until `release` is called. */
  #acquire(): Promise<() => void> {
    return new Promise((resolveSlot) => {
      void this.#limit(
        () =>
          new Promise<void>((done) => {
            resolveSlot(done);
          }),
      );
    });
  }

  #count(result: ChatResult): void {
    this.#stats.promptTokens += result.usage.promptTokens;
    this.#stats.completionTokens += result.usage.completionTokens;
  }
}

function toOpenAi(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length && {
          tool_calls: message.toolCalls.map((call) => ({
            id: call.id,
            type: 'function' as const,
            function: { name: call.name, arguments: call.arguments },
          })),
        }),
      };
    default:
      return { role: message.role, content: message.content };
  }
}

function toTool(tool: ToolSpec): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.parameters },
  };
}

/** SDK failures as Engram errors: the endpoint's trouble is `unavailable` (503), whatever its status. */
function asEngramError(error: unknown, model: string): EngramError {
  if (error instanceof EngramError) return error;
  const status = error instanceof OpenAI.APIError ? ` (HTTP ${error.status ?? 'no response'})` : '';
  return new EngramError('unavailable', `the LLM (${model}) failed${status}: ${(error as Error).message}`, {
    cause: error,
  });
}
