/**
 * Structured output: a value of a zod schema from any `ChatModel`. The model is asked through one
 * forced tool whose parameters are the schema's JSON Schema; a model (or server) that answers in
 * text instead is read from its text. What is safely repairable is repaired — a code fence, prose
 * around one JSON value, trailing commas — and the value is validated with the schema.
 *
 * Problems with the model's output are values (`{ ok: false, error }`), never throws; failures of
 * the endpoint itself (timeouts, 429/5xx after retries) still reject with EngramError `unavailable`.
 */
import { z } from 'zod';
import type { ChatMessage, ChatModel, TokenUsage, ToolSpec } from './llm.js';

export interface StructuredRequest<T> {
  messages: ChatMessage[];
  schema: z.ZodType<T>;
  /** The tool's name (letters, digits, `_`, `-`; at most 64), e.g. `extract_facts`. */
  name: string;
  /** What the value is, for the model: the tool's description. */
  description: string;
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
}

export interface StructuredError {
  /** `no_output`: neither a tool call nor text; `malformed_json`: not JSON even after repair; `schema_mismatch`: JSON, but not the schema's. */
  kind: 'malformed_json' | 'schema_mismatch' | 'no_output';
  /** For logs and people: the JSON parser's or the schema's complaint. */
  message: string;
  /** What the model sent (tool arguments or text), or null when it sent nothing. */
  raw: string | null;
}

export type StructuredResult<T> =
  | { ok: true; value: T; repaired: boolean; usage: TokenUsage }
  | { ok: false; error: StructuredError; usage: TokenUsage };

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Asks `model` for one value of `schema`; see the module comment. */
export async function generateObject<T>(model: ChatModel, request: StructuredRequest<T>): Promise<StructuredResult<T>> {
  if (!TOOL_NAME.test(request.name)) throw new TypeError(`generateObject: invalid tool name ${request.name}`);
  const { parameters, wrapped } = toolParameters(request.schema);
  const tool: ToolSpec = { name: request.name, description: request.description, parameters };
  const result = await model.chat({
    messages: request.messages,
    tools: [tool],
    toolChoice: { name: request.name },
    ...(request.maxTokens !== undefined && { maxTokens: request.maxTokens }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.signal && { signal: request.signal }),
  });
  const outcome = readOutput(result, request, wrapped);
  model.recordStructured?.(outcome.ok ? (outcome.repaired ? 'repaired' : 'ok') : 'rejected');
  return { ...outcome, usage: result.usage };
}

type Outcome<T> = { ok: true; value: T; repaired: boolean } | { ok: false; error: StructuredError };

function readOutput<T>(
  result: { content: string | null; toolCalls: { name: string; arguments: string }[] },
  request: StructuredRequest<T>,
  wrapped: boolean,
): Outcome<T> {
  const call = result.toolCalls.find((candidate) => candidate.name === request.name) ?? result.toolCalls[0];
  const raw = [call?.arguments, result.content].find((text): text is string => Boolean(text?.trim()));
  if (raw === undefined) {
    return {
      ok: false,
      error: { kind: 'no_output', message: 'the model returned neither a tool call nor text', raw: null },
    };
  }
  const parsed = parseJsonLenient(raw);
  if (!parsed.ok) return { ok: false, error: { kind: 'malformed_json', message: parsed.message, raw } };
  // A wrapped (non-object) schema is asked for as `{ value }`; text answers may give the bare value.
  const candidate =
    wrapped && parsed.value !== null && typeof parsed.value === 'object' && 'value' in parsed.value
      ? (parsed.value as { value: unknown }).value
      : parsed.value;
  const checked = request.schema.safeParse(candidate);
  if (!checked.success) {
    return { ok: false, error: { kind: 'schema_mismatch', message: z.prettifyError(checked.error), raw } };
  }
  return { ok: true, value: checked.data, repaired: parsed.repaired };
}

const parametersCache = new WeakMap<z.ZodType, { parameters: Record<string, unknown>; wrapped: boolean }>();

/** Tool parameters must be a JSON Schema object: an object schema as it is, anything else as `{ value }`. */
function toolParameters(schema: z.ZodType): { parameters: Record<string, unknown>; wrapped: boolean } {
  const cached = parametersCache.get(schema);
  if (cached) return cached;
  const { $schema: _draft, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  const built =
    json.type === 'object'
      ? { parameters: json, wrapped: false }
      : { parameters: { type: 'object', properties: { value: json }, required: ['value'] }, wrapped: true };
  parametersCache.set(schema, built);
  return built;
}

export type LenientParse = { ok: true; value: unknown; repaired: boolean } | { ok: false; message: string };

/**
 * JSON as models write it. Strict JSON first; then, as a repair: the inside of a ``` fence, the one
 * JSON value amid prose (more than one is ambiguous and refused), and trailing commas removed.
 * Nothing is guessed: unbalanced brackets, single quotes or comments stay malformed.
 */
export function parseJsonLenient(raw: string): LenientParse {
  const text = raw.trim();
  try {
    return { ok: true, value: JSON.parse(text), repaired: false };
  } catch (error) {
    const fenced = /```[A-Za-z]*[ \t]*\r?\n?([\s\S]*?)```/.exec(text)?.[1] ?? text;
    const span = singleJsonSpan(fenced);
    if (span === null) return { ok: false, message: `not JSON: ${(error as Error).message}` };
    try {
      return { ok: true, value: JSON.parse(withoutTrailingCommas(span)), repaired: true };
    } catch (repairError) {
      return { ok: false, message: `not JSON even after repair: ${(repairError as Error).message}` };
    }
  }
}

/** The text of the one balanced `{…}` or `[…]` in `text`; null if there is none, or a second object follows. */
function singleJsonSpan(text: string): string | null {
  const start = text.search(/[{[]/);
  if (start < 0) return null;
  const end = closingIndex(text, start);
  if (end < 0) return null;
  if (text.slice(end + 1).includes('{')) return null;
  return text.slice(start, end + 1);
}

/** Index of the bracket closing the one at `start`, skipping strings; -1 if it never closes. */
function closingIndex(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Removes commas directly before `}` or `]` (whitespace between allowed), outside strings. */
function withoutTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (inString) {
      out += char;
      if (char === '\\') out += text[++i] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    if (char === ',' && /^\s*[}\]]/.test(text.slice(i + 1))) continue;
    out += char;
  }
  return out;
}
