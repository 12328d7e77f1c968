/**
 * The swap point for text generation: any chat model Engram can call. Implementations:
 * `openai` (any OpenAI-compatible /v1/chat/completions: OpenAI, vLLM, Ollama, LM Studio) and
 * `anthropic` (the Messages API). Messages and tools use the OpenAI chat shapes, which every
 * OpenAI-compatible server speaks; the Anthropic provider maps them to content blocks.
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

/**
 * Which tool the model must call: `auto` (its choice, the default), `required` (some tool), or
 * one tool by name. Only sent with `tools`; servers that ignore it may still answer in text.
 */
export type ToolChoice = 'auto' | 'required' | { name: string };

export interface ChatRequest {
  messages: ChatMessage[];
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface TokenUsage {
  /** Tokens sent (for Anthropic: input tokens including cache reads and writes). */
  promptTokens: number;
  /** Tokens generated. */
  completionTokens: number;
}

export interface ChatResult {
  content: string | null;
  toolCalls: ToolCall[];
  usage: TokenUsage;
}

/** A piece of a streamed reply: text as it is generated, then the whole result. */
export type ChatChunk = { type: 'delta'; text: string } | { type: 'done'; result: ChatResult };

/** How a structured output (`generateObject`) ended: valid as sent, valid after a safe repair, or rejected. */
export type StructuredOutcome = 'ok' | 'repaired' | 'rejected';

/** Tokens spent and calls made since start, for metrics. */
export interface LlmStats {
  readonly requests: number;
  readonly failures: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Structured outputs by outcome (counted by `generateObject` through `recordStructured`). */
  readonly structured: Readonly<Record<StructuredOutcome, number>>;
}

export interface ChatModel {
  /** e.g. `gpt-4o-mini`, `qwen2.5:7b`, `claude-sonnet-4-5`. */
  readonly model: string;
  readonly stats: LlmStats;
  chat(request: ChatRequest): Promise<ChatResult>;
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
  /** Counts one structured output in `stats.structured`; models without it are simply not counted. */
  recordStructured?(outcome: StructuredOutcome): void;
}
