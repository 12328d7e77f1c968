import pLimit, { type LimitFunction } from 'p-limit';
import { EngramError } from '../core/errors.js';
import type { LlmStats, StructuredOutcome, TokenUsage } from './llm.js';

/**
 * What every provider shares: a concurrency limit (calls beyond it wait their turn), the
 * counters behind `ChatModel.stats`, and the mapping of SDK failures to Engram errors.
 */
export class LlmMeter {
  readonly #limit: LimitFunction;
  #requests = 0;
  #failures = 0;
  #promptTokens = 0;
  #completionTokens = 0;
  readonly #structured: Record<StructuredOutcome, number> = { ok: 0, repaired: 0, rejected: 0 };

  constructor(concurrency: number) {
    this.#limit = pLimit(concurrency);
  }

  get stats(): LlmStats {
    return {
      requests: this.#requests,
      failures: this.#failures,
      promptTokens: this.#promptTokens,
      completionTokens: this.#completionTokens,
      structured: { ...this.#structured },
    };
  }

  /** Runs one call in a concurrency slot, counting it (once, however often the SDK retried it). */
  run<T>(call: () => Promise<T>, onError: (error: unknown) => EngramError): Promise<T> {
    return this.#limit(async () => {
      this.#requests++;
      try {
        return await call();
      } catch (error) {
        this.#failures++;
        throw onError(error);
      }
    });
  }

  /** Takes a concurrency slot until `release` is called (a stream holds one for its whole length). */
  acquire(): Promise<() => void> {
    return new Promise((resolveSlot) => {
      void this.#limit(
        () =>
          new Promise<void>((done) => {
            resolveSlot(done);
          }),
      );
    });
  }

  started(): void {
    this.#requests++;
  }

  failed(): void {
    this.#failures++;
  }

  used(usage: TokenUsage): void {
    this.#promptTokens += usage.promptTokens;
    this.#completionTokens += usage.completionTokens;
  }

  structured(outcome: StructuredOutcome): void {
    this.#structured[outcome]++;
  }
}

/**
 * An SDK failure as an Engram error: the endpoint's trouble is `unavailable` (503), whatever its
 * status. The API key is cut out of the message should the endpoint (or a proxy) echo it.
 */
export function llmError(
  error: unknown,
  model: string,
  /** The HTTP status of an API error, `null` for one without a response, `undefined` for other errors. */
  status: number | null | undefined,
  apiKey: string | undefined,
): EngramError {
  if (error instanceof EngramError) return error;
  const where = status === undefined ? '' : ` (HTTP ${status ?? 'no response'})`;
  const detail = error instanceof Error ? error.message : String(error);
  const message = `the LLM (${model}) failed${where}: ${detail}`;
  return new EngramError('unavailable', apiKey ? message.split(apiKey).join('[redacted]') : message, {
    cause: error,
  });
}
