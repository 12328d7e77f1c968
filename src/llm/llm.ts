/**
 * The swap point for text generation: any chat model Engram can call. Implementations:
 * `openai` (any OpenAI-compatible /v1/chat/completions: OpenAI, vLLM, Ollama, LM Studio).
 * Messages and tools use the OpenAI chat shapes, which every such server speaks.
 */

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text, possibly malformed). */
  arguments: string;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  messages: ChatMessage[];
  tools?: ToolSpec[];
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string | null;
  toolCalls: ToolCall[];
  usage: { promptTokens: number; completionTokens: number };
}

/** A piece of a streamed reply: text as it is generated, then the whole result. */
export type ChatChunk = { type: 'delta'; text: string } | { type: 'done'; result: ChatResult };

/** Tokens spent and calls made since start, for metrics. */
export interface LlmStats {
  readonly requests: number;
  readonly failures: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface ChatModel {
  /** e.g. `gpt-4o-mini`, `qwen2.5:7b`. */
  readonly model: string;
  readonly stats: LlmStats;
  chat(request: ChatRequest): Promise<ChatResult>;
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
}
