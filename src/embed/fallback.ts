import type { Embedder, EmbedOptions } from './embedder.js';

/**
 * Uses `primary` unless it fails to start, then `secondary` — two runtimes of the same model
 * (same id and dimension), e.g. native onnxruntime first and the portable TF.js build second.
 */
export class FallbackEmbedder implements Embedder {
  readonly #primary: Embedder;
  readonly #secondary: Embedder;
  readonly #onFallback: (error: unknown) => void;
  #active: Embedder | null = null;
  #starting: Promise<void> | null = null;

  constructor(primary: Embedder, secondary: Embedder, onFallback: (error: unknown) => void) {
    if (primary.model !== secondary.model) throw new Error('a fallback must run the same model');
    this.#primary = primary;
    this.#secondary = secondary;
    this.#onFallback = onFallback;
  }

  get model(): string {
    return this.#primary.model;
  }

  get dimension(): number {
    return (this.#active ?? this.#primary).dimension;
  }

  /** Which runtime serves requests (after init). */
  get active(): Embedder | null {
    return this.#active;
  }

  init(): Promise<void> {
    this.#starting ??= (async () => {
      try {
        await this.#primary.init();
        this.#active = this.#primary;
      } catch (error) {
        this.#onFallback(error);
        await this.#primary.close().catch(() => undefined);
        await this.#secondary.init();
        this.#active = this.#secondary;
      }
    })();
    return this.#starting;
  }

  async embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]> {
    await this.init();
    return (this.#active as Embedder).embed(texts, options);
  }

  async close(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await Promise.all([this.#primary.close(), this.#secondary.close()]);
  }
}
