import OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions/completions';
import { EngramError } from '../core/errors.js';
import type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatResult,
  LlmStats,
  StructuredOutcome,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from './llm.js';
import { LlmMeter, llmError } from './meter.js';

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
  readonly #meter: LlmMeter;
  readonly #temperature: number;
  readonly #apiKey: string | undefined;

  constructor(options: OpenAiChatOptions) {
    this.model = options.model;
    this.#apiKey = options.apiKey;
    this.#client = new OpenAI({
      baseURL: options.baseUrl,
      // Local servers (Ollama, vLLM) take any key; the SDK insists on one.
      apiKey: options.apiKey ?? 'not-needed',
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
    this.#meter = new LlmMeter(options.concurrency);
    this.#temperature = options.temperature;
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
        const completion = await this.#client.chat.completions.create(
          { ...this.#params(request), stream: false },
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
      const stream = await this.#client.chat.completions.create(
        { ...this.#params(request), stream: true, stream_options: { include_usage: true } },
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
      this.#meter.used(result.usage);
      yield { type: 'done', result };
    } catch (error) {
      this.#meter.failed();
      throw this.#error(error);
    } finally {
      release();
    }
  }

  #params(request: ChatRequest) {
    const tools = request.tools ?? [];
    return {
      model: this.model,
      messages: request.messages.map(toOpenAi),
      ...(tools.length > 0 && { tools: tools.map(toTool) }),
      ...(tools.length > 0 && request.toolChoice !== undefined && { tool_choice: toToolChoice(request.toolChoice) }),
      temperature: request.temperature ?? this.#temperature,
      ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
    };
  }

  #error(error: unknown): EngramError {
    const status = error instanceof OpenAI.APIError ? (error.status ?? null) : undefined;
    return llmError(error, this.model, status, this.#apiKey);
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

function toToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}
