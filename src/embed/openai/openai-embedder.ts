import OpenAI from 'openai';
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
  /** Retries after a 408, 409, 429, a 5xx, a timeout or a network error, with the SDK's back-off. */
  maxRetries: z.number().int().min(0).max(10).default(3),
});
export type OpenAiConfig = z.output<typeof openAiConfigSchema>;
export type OpenAiConfigInput = z.input<typeof openAiConfigSchema>;

const PROBE_TEXT = 'dimension probe';
const MAX_RETRY_AFTER_MS = 30_000;

const responseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative().optional(), embedding: z.array(z.number()) })),
});

/**
 * Any OpenAI-compatible `POST {baseUrl}/embeddings` (OpenAI, Ollama, vLLM, TEI, LM Studio), through
 * the official `openai` SDK: it times out each attempt and retries with back-off. Every failure
 * leaves as EngramError('unavailable') with the API key cut out.
 */
export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  readonly #config: OpenAiConfig;
  readonly #client: OpenAI;
  #dimension: number | undefined;
  #probing: Promise<void> | undefined;

  constructor(config: OpenAiConfigInput) {
    this.#config = openAiConfigSchema.parse(config);
    this.model = `openai:${this.#config.model}`;
    this.#dimension = this.#config.dimension;
    const { baseUrl, apiKey, timeoutMs, maxRetries } = this.#config;
    this.#client = new OpenAI({
      baseURL: baseUrl,
      // Passed explicitly so the SDK never falls back to OPENAI_API_KEY and friends from the
      // environment: they belong to another endpoint. Without a key no Authorization is sent.
      apiKey: apiKey ?? 'none',
      organization: null,
      project: null,
      ...(apiKey === undefined && { defaultHeaders: { authorization: null } }),
      timeout: timeoutMs,
      maxRetries,
      fetch: cappedRetryAfter,
    });
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

  /** One batch (the SDK retries it). */
  async #request(texts: string[]): Promise<Float32Array[]> {
    let body: unknown;
    try {
      // `float`: the SDK would ask for base64, which some compatible servers cannot send.
      body = await this.#client.embeddings.create({
        model: this.#config.model,
        input: texts.map(nonEmpty),
        encoding_format: 'float',
      });
    } catch (error) {
      throw this.#unavailable(describe(error, this.#config.timeoutMs), retryable(error));
    }
    const parsed = responseSchema.safeParse(typeof body === 'string' ? parseJson(body) : body);
    if (!parsed.success) throw this.#unavailable('the response is not an embeddings list', false);
    const rows = parsed.data.data.map((row, i) => ({ index: row.index ?? i, embedding: row.embedding }));
    rows.sort((a, b) => a.index - b.index);
    if (rows.length !== texts.length || rows.some((row, i) => row.index !== i)) {
      throw this.#unavailable(`expected ${texts.length} embeddings, got ${rows.length}`, false);
    }
    return rows.map((row) => this.#vector(row.embedding));
  }

  #vector(values: number[]): Float32Array {
    const expected = this.#dimension;
    if (values.length === 0 || (expected !== undefined && values.length !== expected)) {
      const want = expected ?? 'a non-empty one';
      throw this.#unavailable(`got a ${values.length}-d embedding, expected ${want}`, false);
    }
    return normalise(Float32Array.from(values));
  }

  /**
   * `retried`: the SDK retried this kind of failure, so it gave up after every attempt. The SDK's
   * error is not kept as the cause: it carries response headers, and undici's errors can quote
   * the Authorization header.
   */
  #unavailable(problem: string, retried: boolean): EngramError {
    const attempts = retried ? this.#config.maxRetries + 1 : 1;
    const tries = attempts === 1 ? '' : ` after ${attempts} attempts`;
    const url = safeUrl(`${this.#config.baseUrl.replace(/\/+$/, '')}/embeddings`);
    const cause = new Error(this.#redact(problem));
    cause.name = 'EmbeddingRequestError';
    return new EngramError('unavailable', `embedding endpoint ${url} failed${tries}: ${cause.message}`, {
      cause,
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

/** Whether the SDK retries this failure (its own rule: no response, 408, 409, 429, 5xx). */
function retryable(error: unknown): boolean {
  if (error instanceof OpenAI.APIConnectionError) return true;
  if (!(error instanceof OpenAI.APIError) || error.status === undefined) return false;
  const header = error.headers?.get('x-should-retry');
  if (header === 'true' || header === 'false') return header === 'true';
  return error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

/** A failure in a few words: the status and the server's own message, or what went wrong on the way. */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return `no response within ${timeoutMs} ms`;
  if (error instanceof OpenAI.APIConnectionError) return errorCode(error.cause) ?? 'network error';
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    // The SDK's message is "<status> <the server's error.message, or its text>".
    const text = error.message.replace(/^\d+ /, '').replace('status code (no body)', '').replace(/\s+/g, ' ').trim();
    const detail = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    return `HTTP ${error.status}${detail ? `: ${detail}` : ''}`;
  }
  if (error instanceof SyntaxError) return 'the response is not JSON';
  return error instanceof Error ? error.message : 'the request failed';
}

/** The system error code (ECONNREFUSED, ENOTFOUND, …) under fetch's "fetch failed". */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    if ('code' in current && typeof current.code === 'string') return current.code;
  }
  return error instanceof Error ? error.message : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The SDK waits as long as `Retry-After` asks; a confused server should not stall embedding for
 * an hour. Longer waits are capped through `retry-after-ms`, which the SDK reads first.
 */
async function cappedRetryAfter(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  const header = response.ok ? null : response.headers.get('retry-after');
  if (!header) return response;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (!(ms > MAX_RETRY_AFTER_MS)) return response;
  const headers = new Headers(response.headers);
  headers.set('retry-after-ms', String(MAX_RETRY_AFTER_MS));
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** The URL without user:password. */
function safeUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}
