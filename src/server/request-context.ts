/**
 * What every route and MCP tool handler gets: the server's dependencies (`ServerDeps`, built once
 * at start) and, per request, the `Caller` the auth middleware resolved (Hono's `AppEnv`).
 * Not to be confused with conversation context in ranking (core/conversation-context.ts).
 */
import type { Redis } from 'ioredis';
import type { KeyStore, Principal } from '../auth/key-store.js';
import type { Config } from '../config.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import type { EngramJobs } from '../jobs/index.js';
import type { KnowledgeBase } from '../kb/index.js';
import type { ChatModel } from '../llm/index.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

/** Everything the HTTP layer needs, built once at start. */
export interface ServerDeps {
  config: Config;
  service: MemoryService;
  /** Background jobs (asynchronous adds): front ends enqueue here; this process's runner runs them. */
  jobs: EngramJobs;
  keys: KeyStore;
  logger: Logger;
  metrics: Metrics;
  /** Shared state across replicas (rate-limit counters), when ENGRAM_REDIS_URL is set. */
  redis: Redis | null;
  /** The git knowledge base, when enabled and available. */
  kb: KnowledgeBase | null;
  /** The chat model, when ENGRAM_LLM_PROVIDER names one. */
  llm: ChatModel | null;
  /** Set once shutdown begins: `/ready` answers 503 so load balancers stop sending traffic. */
  lifecycle: { draining: boolean };
}

/** Who is calling, resolved by the auth middleware for every /v1 and MCP request. */
export interface Caller {
  /** The user whose memories this request reads and writes. */
  userId: string;
  /** null in local (keyless) mode. */
  principal: Principal | null;
  actor: Actor;
}

export type AppEnv = { Variables: { caller: Caller; requestId: string } };
