import type { Context, MiddlewareHandler } from 'hono';
import { MemoryStore, RedisStore, rateLimiter, type Store } from 'hono-rate-limiter';
import { EngramError } from '../core/errors.js';
import { rateLimitClient } from '../shared/redis.js';
import { bearerToken } from './auth.js';
import { errorBody } from './errors.js';
import type { AppEnv, ServerDeps } from './request-context.js';

/**
 * The rate-limit bucket of a request: its API key's id when the key is valid (however the header
 * is spelled), else the client address — so unknown tokens cannot buy fresh buckets.
 */
const clientKey =
  (keys: ServerDeps['keys']) =>
  (c: Context<AppEnv>): string => {
    const token = bearerToken(c.req.header('authorization'));
    const principal = token ? keys.authenticate(token) : null;
    if (principal) return `key:${principal.keyId}`;
    const info = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket;
    return `ip:${info?.remoteAddress ?? 'unknown'}`;
  };

/** MCP posts: one HTTP request may carry a JSON-RPC batch of many calls. */
const isMcpPost = (c: Context<AppEnv>): boolean =>
  c.req.method === 'POST' && (c.req.path === '/mcp' || c.req.path === '/messages');

const WINDOW_MS = 60_000;

/**
 * `ENGRAM_RATE_LIMIT_PER_MINUTE` per client (key, or address without one), counted in one set of
 * counters — in Redis when replicas share one. REST requests count one each; an MCP post counts
 * each JSON-RPC request it carries (a batch of 40 tool calls is 40), so batching cannot multiply
 * the limit. Null when the limit is off.
 */
export function rateLimit(deps: ServerDeps): MiddlewareHandler<AppEnv> | null {
  const perMinute = deps.config.limits.rateLimitPerMinute;
  if (perMinute <= 0) return null;
  const store: Store<AppEnv> = deps.redis
    ? new RedisStore({ client: rateLimitClient(deps.redis), prefix: 'engram:rate:' })
    : new MemoryStore();
  const keyGenerator = clientKey(deps.keys);
  const refuse = (c: Context<AppEnv>, resetSeconds: string): Response => {
    c.header('Retry-After', resetSeconds);
    return c.json(errorBody(new EngramError('rate_limited', `more than ${perMinute} requests a minute`)), 429);
  };
  // REST (and MCP GET/DELETE): the library's limiter, with standard RateLimit headers.
  const requests = rateLimiter<AppEnv>({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-6',
    keyGenerator,
    store,
    skip: isMcpPost,
    handler: (c) => refuse(c, c.res.headers.get('RateLimit-Reset') ?? '60'),
  });
  return async (c, next) => {
    if (!isMcpPost(c)) return requests(c, next);
    const calls = await jsonRpcRequests(c);
    const key = await keyGenerator(c);
    let info = await store.increment(key);
    for (let i = 1; i < calls; i++) info = await store.increment(key);
    if (info.totalHits > perMinute) {
      const reset = info.resetTime ? Math.max(1, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : 60;
      return refuse(c, String(reset));
    }
    await next();
  };
}

/** How many JSON-RPC requests (messages with a method) an MCP post carries; at least 1. */
async function jsonRpcRequests(c: Context<AppEnv>): Promise<number> {
  try {
    // A clone: the transport reads the original body.
    const body = (await c.req.raw.clone().json()) as unknown;
    const messages = Array.isArray(body) ? body : [body];
    const count = messages.filter((message) => typeof (message as { method?: unknown })?.method === 'string').length;
    return Math.max(1, count);
  } catch {
    return 1;
  }
}
