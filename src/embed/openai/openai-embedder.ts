import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import type { Embedder } from '../embedder.js';
import { normalise } from '../embedder.js';

export const openAiConfigSchema = z.object({
  /** API root that `/embeddings` hangs off, e.g. `https://api.openai.com/v1` or `http://ollama:11434/v1`. */
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** Sent as `Authorization: Bearer …` when set. Never appears in errors. */
  apiKey: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  model: z.string().min(1),
  /** Vector length; probed from the endpoint in `init()` when omitted. */
  dimension: z.number().int().positive().optional(),
  /** Most inputs per HTTP request. */
  batchSize: z.number().int().min(1).max(2048).default(96),
  /** Per-attempt request timeout. */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Retries after a 429, a 5xx, a timeout or a network error. */
  maxRetries: z.number().int().min(0).max(10).default(3),
  /** First backoff delay; doubles on every retry (with jitter). */
  retryBaseMs: z.number().int().min(0).default(250),
});
export type OpenAiConfig = z.output<typeof openAiConfigSchema>;
export type OpenAiConfigInput = z.input<typeof openAiConfigSchema>;

const PROBE_TEXT = 'dimension probe';
const MAX_RETRY_AFTER_MS = 30_000;

const responseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative().optional(), embedding: z.array(z.number()) })),
});

/** A failed attempt, and whether trying again could help. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'EmbeddingRequestError';
  }
}

/** Any OpenAI-compatible `POST {baseUrl}/embeddings`: OpenAI, Ollama, vLLM, TEI, LM Studio. */
export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  readonly #config: OpenAiConfig;
  readonly #url: string;
  #dimension: number | undefined;
  #probing: Promise<void> | undefined;

  constructor(config: OpenAiConfigInput) {
    this.#config = openAiConfigSchema.parse(config);
    this.model = `openai:${this.#config.model}`;
    this.#url = `${this.#config.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.#dimension = this.#config.dimension;
  }

  /** 0 until `init()` has probed the endpoint (unless the config gave it). */
  get dimension(): number {
    return this.#dimension ?? 0;
  }

  /** Probes the endpoint for the vector length unless the config gives it. */
  init(): Promise<void> {
    if (this.#dimension !== undefined) return Promise.resolve();
    this.#probing ??= this.#request([PROBE_TEXT])
      .then(([vector]) => {
        this.#dimension = (vector as Float32Array).length;
      })
      .finally(() => {
        this.#probing = undefined;
      });
    return this.#probing;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    await this.init();
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.#config.batchSize) {
      out.push(...(await this.#request(texts.slice(i, i + this.#config.batchSize))));
    }
    return out;
  }

  async close(): Promise<void> {}

  /** One batch, with retries; every failure leaves as EngramError('unavailable'). */
  async #request(texts: string[]): Promise<Float32Array[]> {
    const { maxRetries, retryBaseMs } = this.#config;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt(texts);
      } catch (error) {
        if (!(error instanceof AttemptError)) throw error;
        if (!error.retryable || attempt >= maxRetries) throw this.#unavailable(error, attempt + 1);
        await sleep(error.retryAfterMs ?? backoff(retryBaseMs, attempt));
      }
    }
  }

  async #attempt(texts: string[]): Promise<Float32Array[]> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: this.#headers(),
        body: JSON.stringify({ model: this.#config.model, input: texts.map(nonEmpty) }),
        signal: AbortSignal.timeout(this.#config.timeoutMs),
      });
      body = await response.text();
    } catch (error) {
      // The raw error is not kept as a cause: undici's header errors quote the header value.
      throw new AttemptError(this.#redact(describeFetchError(error, this.#config.timeoutMs)), true);
    }
    if (!response.ok) throw this.#httpError(response, body);
    return this.#parse(body, texts.length);
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.#config.apiKey) headers.authorization = `Bearer ${this.#config.apiKey}`;
    return headers;
  }

  #httpError(response: Response, body: string): AttemptError {
    const { status } = response;
    const retryable = status === 408 || status === 429 || status >= 500;
    const detail = this.#redact(errorDetail(body));
    const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
    return new AttemptError(message, retryable, retryAfter(response.headers.get('retry-after')));
  }

  #parse(body: string, expected: number): Float32Array[] {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new AttemptError('the response is not JSON', false);
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) throw new AttemptError('the response is not an embeddings list', false);
    const rows = parsed.data.data.map((row, i) => ({ index: row.index ?? i, embedding: row.embedding }));
    rows.sort((a, b) => a.index - b.index);
    if (rows.length !== expected || rows.some((row, i) => row.index !== i)) {
      throw new AttemptError(`expected ${expected} embeddings, got ${rows.length}`, false);
    }
    return rows.map((row) => this.#vector(row.embedding));
  }

  #vector(values: number[]): Float32Array {
    const expected = this.#dimension;
    if (values.length === 0 || (expected !== undefined && values.length !== expected)) {
      throw new AttemptError(`got a ${values.length}-d embedding, expected ${expected ?? 'a non-empty one'}`, false);
    }
    return normalise(Float32Array.from(values));
  }

  #unavailable(error: AttemptError, attempts: number): EngramError {
    const tries = attempts === 1 ? '' : ` after ${attempts} attempts`;
    return new EngramError('unavailable', `embedding endpoint ${safeUrl(this.#url)} failed${tries}: ${error.message}`, {
      cause: error,
      details: { model: this.model, attempts },
    });
  }

  #redact(text: string): string {
    const key = this.#config.apiKey;
    return key ? text.split(key).join('[redacted]') : text;
  }
}

export function createOpenAiEmbedder(config: OpenAiConfigInput): OpenAiEmbedder {
  return new OpenAiEmbedder(config);
}

/** OpenAI rejects empty strings; a single space embeds as "nothing" everywhere. */
function nonEmpty(text: string): string {
  return text === '' ? ' ' : text;
}

function backoff(baseMs: number, attempt: number): number {
  const ms = baseMs * 2 ** attempt;
  return ms / 2 + Math.random() * (ms / 2);
}

/** `Retry-After` in seconds or as an HTTP date, capped. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/** The server's own error message (OpenAI shape `{error:{message}}` or plain text), shortened. */
function errorDetail(body: string): string {
  let text = body;
  try {
    const json: unknown = JSON.parse(body);
    const message = z.object({ error: z.object({ message: z.string() }) }).safeParse(json);
    if (message.success) text = message.data.error.message;
  } catch {
    // not JSON: keep the text
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no response within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  return code ?? (error instanceof Error ? error.message : 'network error');
}

/** The URL without user:password. */
function safeUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}
