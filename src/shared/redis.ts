/**
 * Redis, when configured (`ENGRAM_REDIS_URL`), holds what several Engram replicas must share: the
 * rate-limit counters (server/rate-limit.ts) and an embedding cache, per user (embed/shared-cache.ts).
 * Without it each process counts and caches on its own.
 */
import { Redis } from 'ioredis';
import { EngramError } from '../core/errors.js';

/** Connects and checks the server answers; fails start-up with a clear error otherwise. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // Commands fail fast while the connection is down instead of queueing without bound.
    enableOfflineQueue: false,
  });
  // Errors surface on the commands that fail; the client reconnects by itself.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new EngramError('unavailable', `cannot reach Redis at ENGRAM_REDIS_URL: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return redis;
}

/** The client shape hono-rate-limiter's RedisStore calls, on ioredis. */
export function rateLimitClient(redis: Redis) {
  return {
    scriptLoad: (script: string) => redis.script('LOAD', script) as Promise<string>,
    evalsha: <TArgs extends unknown[], TData = unknown>(sha: string, keys: string[], args: TArgs) =>
      redis.evalsha(sha, keys.length, ...keys, ...args.map((arg) => String(arg))) as Promise<TData>,
    decr: (key: string) => redis.decr(key),
    del: (key: string) => redis.del(key),
  };
}
