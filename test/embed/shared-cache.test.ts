import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embed/embedder.js';
import { SharedCacheEmbedder } from '../../src/embed/shared-cache.js';

/**
 * The embedding cache replicas share, on a real Redis (ENGRAM_TEST_REDIS_URL, from
 * `scripts/services.sh start`). The model behind it is a counting stand-in: what is under test is
 * which texts reach the model.
 */
const url = process.env.ENGRAM_TEST_REDIS_URL;
const HOW = 'set ENGRAM_TEST_REDIS_URL (scripts/services.sh start) to run it';
if (!url) console.warn(`shared embedding cache tests skipped: ${HOW}`);

/** A deterministic 4-d "model" that records every text it is asked to embed. */
function countingModel(model = 'test-model'): Embedder & { seen: string[] } {
  const seen: string[] = [];
  return {
    model,
    dimension: 4,
    seen,
    init: async () => undefined,
    close: async () => undefined,
    embed: async (texts) => {
      seen.push(...texts);
      return texts.map((text) => Float32Array.of(text.length, text.charCodeAt(0), model.length, 1));
    },
  };
}

/** Resolves once Redis holds `count` keys under `prefix` (the cache writes without waiting). */
async function keysLanded(redis: Redis, prefix: string, count: number): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length >= count) return keys;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Redis never held ${count} keys under ${prefix}`);
}

(url ? describe : describe.skip)(`shared embedding cache${url ? '' : ` (skipped: ${HOW})`}`, () => {
  let redis: Redis;
  const prefix = `engram:test:${randomBytes(4).toString('hex')}:`;
  beforeAll(() => {
    redis = new Redis(url as string);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });
  const replica = (model = countingModel()) => ({
    model,
    cache: new SharedCacheEmbedder(model, { redis, ttlSeconds: 60, prefix }),
  });

  it('a text one replica embedded reaches no other replica’s model, and comes back identical', async () => {
    const a = replica();
    const b = replica();
    const first = await a.cache.embed(['alpha', 'beta']);
    await keysLanded(redis, prefix, 2);
    const second = await b.cache.embed(['beta', 'gamma', 'alpha']);
    expect(b.model.seen).toEqual(['gamma']);
    expect(second[0]).toEqual(first[1]);
    expect(second[2]).toEqual(first[0]);
    expect(b.cache.sharedCache).toEqual({ hits: 2, misses: 1, errors: 0 });
    // Vectors expire: each key carries the configured time to live.
    const ttl = await redis.ttl((await redis.keys(`${prefix}*`))[0] as string);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('keys vectors by model, and treats a value of the wrong size as absent', async () => {
    const other = replica(countingModel('another-model'));
    await other.cache.embed(['alpha']);
    expect(other.model.seen).toEqual(['alpha']);

    const keys = await keysLanded(redis, prefix, 4);
    for (const key of keys) await redis.set(key, 'not a vector');
    const c = replica();
    const vectors = await c.cache.embed(['alpha']);
    expect(c.model.seen).toEqual(['alpha']);
    expect(Array.from(vectors[0] as Float32Array)).toEqual([5, 97, 10, 1]);
  });

  it('keeps each scope (user) apart, under a prefix of its own', async () => {
    const a = replica();
    const b = replica();
    await a.cache.embed(['secret'], { scope: 'alice' });
    const alicePrefix = a.cache.scopePrefix('alice');
    expect((await keysLanded(redis, alicePrefix, 1)).length).toBe(1);
    await b.cache.embed(['secret'], { scope: 'bob' });
    expect(b.model.seen).toEqual(['secret']);
    await b.cache.embed(['secret'], { scope: 'alice' });
    expect(b.model.seen).toEqual(['secret']);
    expect(b.cache.sharedCache).toEqual({ hits: 1, misses: 1, errors: 0 });
    expect(alicePrefix).not.toBe(b.cache.scopePrefix('bob'));
  });

  it('embeds locally when Redis is unreachable, and counts the failures', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => undefined);
    const model = countingModel();
    const cache = new SharedCacheEmbedder(model, { redis: down, ttlSeconds: 60, prefix });
    const vectors = await cache.embed(['alpha', 'beta']);
    expect(vectors).toHaveLength(2);
    expect(model.seen).toEqual(['alpha', 'beta']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cache.sharedCache.errors).toBeGreaterThanOrEqual(1);
    down.disconnect();
  });
});
