import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { EngramError } from '../core/errors.js';
import { EmbedderDecorator } from './decorator.js';
import type { Embedder, EmbedOptions, SharedCacheStats } from './embedder.js';

export interface SharedCacheOptions {
  redis: Redis;
  /** How long a vector stays in Redis after it was last computed. */
  ttlSeconds: number;
  /** Key prefix; keys are `<prefix><sha256(scope)>:<sha256(model, scope, text)>`. */
  prefix?: string;
}

/**
 * Vectors shared by every replica through Redis (`ENGRAM_REDIS_URL`): a text one replica embedded
 * for a user is not embedded again by another replica for the same user. Entries are scoped per
 * user like the in-process cache (a hit for another user's text would be a timing oracle), and
 * each user's keys share a prefix so that they can be found and dropped together. Sits behind the per-process LRU and in front of the queue, so
 * only texts no replica has seen reach the model. Values are the raw little-endian float32 bytes.
 * Redis is an optimisation here, never a dependency: when it fails, texts are embedded locally
 * (and the failure counted), so a Redis outage slows ingest down but fails nothing. The Redis
 * connection belongs to whoever opened it (the server): closing this closes only the inner embedder.
 */
export class SharedCacheEmbedder extends EmbedderDecorator {
  readonly #redis: Redis;
  readonly #ttl: number;
  readonly #prefix: string;
  #hits = 0;
  #misses = 0;
  #errors = 0;

  constructor(inner: Embedder, options: SharedCacheOptions) {
    super(inner);
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
      throw new RangeError(`ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.#redis = options.redis;
    this.#ttl = options.ttlSeconds;
    this.#prefix = options.prefix ?? 'engram:embed:';
  }

  override get sharedCache(): SharedCacheStats {
    return { hits: this.#hits, misses: this.#misses, errors: this.#errors };
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const scope = options.scope ?? '';
    const keys = texts.map((text) => this.#key(scope, text));
    const found = await this.#read(keys);
    const missing: number[] = [];
    found.forEach((vector, i) => {
      if (vector === null) missing.push(i);
    });
    this.#hits += texts.length - missing.length;
    this.#misses += missing.length;
    if (missing.length > 0) {
      const computed = await this.inner.embed(
        missing.map((i) => texts[i] as string),
        options,
      );
      if (computed.length !== missing.length) {
        throw new EngramError(
          'internal',
          `${this.model} returned ${computed.length} vectors for ${missing.length} texts`,
        );
      }
      missing.forEach((i, j) => {
        found[i] = computed[j] as Float32Array;
      });
      this.#write(missing.map((i, j) => [keys[i] as string, computed[j] as Float32Array]));
    }
    return found as Float32Array[];
  }

  /** The cached vector per key, or null (absent, the wrong size, or Redis unavailable). */
  async #read(keys: string[]): Promise<(Float32Array | null)[]> {
    try {
      const values = await this.#redis.mgetBuffer(...keys);
      const bytes = this.inner.dimension * 4;
      return values.map((value) => {
        if (value === null || value.length !== bytes) return null;
        // Copy into an aligned buffer of its own: the caller may keep or change it.
        const vector = new Float32Array(this.inner.dimension);
        new Uint8Array(vector.buffer).set(value);
        return vector;
      });
    } catch {
      this.#errors++;
      return keys.map(() => null);
    }
  }

  /** Stores new vectors without making the caller wait; a failure is only counted. */
  #write(entries: [string, Float32Array][]): void {
    const pipeline = this.#redis.pipeline();
    for (const [key, vector] of entries) {
      pipeline.set(key, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), 'EX', this.#ttl);
    }
    pipeline.exec().then(
      (results) => {
        if (results?.some(([error]) => error)) this.#errors++;
      },
      () => {
        this.#errors++;
      },
    );
  }

  /** The keys of one scope's vectors all start with `scopePrefix(scope)`. */
  scopePrefix(scope: string): string {
    return `${this.#prefix}${createHash('sha256').update(scope).digest('base64url').slice(0, 22)}:`;
  }

  #key(scope: string, text: string): string {
    const digest = createHash('sha256')
      .update(`${this.inner.model}\0${scope.length}:${scope}\0`)
      .update(text)
      .digest('base64url');
    return `${this.scopePrefix(scope)}${digest}`;
  }
}
