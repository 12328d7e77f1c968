import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { embedderOptions, storeOptions } from './backends.js';
import type { Config } from './config.js';
import { type MaintenanceOptions, MemoryService } from './core/memory-service.js';
import type { SearchOptions } from './core/search.js';
import type { Embedder } from './embed/embedder.js';
import { createEmbedder, type EmbedderName } from './embed/registry.js';
import { Extractor } from './extract/index.js';
import { KnowledgeBase } from './kb/index.js';
import { createChatModel } from './llm/index.js';
import type { Logger } from './logger.js';
import { withUserLimits } from './stores/quota.js';
import { createStore } from './stores/registry.js';
import type { MemoryStore } from './stores/store.js';
import { traced } from './telemetry/index.js';

/** What the parts may share with other processes (the server connects it; one-shot commands don't). */
export interface SharedResources {
  /** Redis (ENGRAM_REDIS_URL): holds the embedding cache replicas share. */
  redis?: Redis | null;
  /** Where the parts report problems (rejected LLM output). */
  logger?: Logger;
}

function buildEmbedder<N extends EmbedderName>(name: N, config: Config, shared: SharedResources): Embedder {
  const ttlSeconds = config.redis.embedCacheTtlSeconds;
  return createEmbedder(name, embedderOptions(config, name), {
    cacheSize: config.embed.cacheSize,
    ...(shared.redis && ttlSeconds > 0 && { shared: { redis: shared.redis, ttlSeconds } }),
    queue: {
      capacity: config.embed.queueSize,
      maxWaitMs: config.embed.queueWaitMs,
      // A remote endpoint gets whole requests; local models get chunks small enough that a query
      // arriving during an import waits for little (see queue.ts).
      ...(name === 'openai' && { chunkSize: config.openai.batchSize }),
    },
  });
}

/** Builds the store and embedder a config names (not yet initialised). */
export function buildParts(config: Config, shared: SharedResources = {}): { store: MemoryStore; embedder: Embedder } {
  const store = withUserLimits(createStore(config.store, storeOptions(config, config.store)), {
    maxMemories: config.limits.userMaxMemories,
    maxBytes: config.limits.userMaxBytes,
  });
  // With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), every store and embedder call is a span.
  return {
    store: traced(store, 'store'),
    embedder: traced(buildEmbedder(config.embedder, config, shared), 'embedder'),
  };
}

/** How the service maintains memories, from the config. */
export function maintenanceOptions(config: Config): MaintenanceOptions {
  const { inferDefault, trackAccess, accessFlushMs, extractOnAdd, extractCandidates } = config.memory;
  return {
    inferDefault,
    nearDuplicates: {
      minSimilarity: config.memory.nearDuplicateSimilarity,
      minOverlap: config.memory.nearDuplicateOverlap,
      minCoverage: config.memory.nearDuplicateCoverage,
      strictWords: config.memory.nearDuplicateStrictWords,
      candidates: 10,
    },
    trackAccess,
    accessFlushMs,
    extractOnAdd,
    extractCandidates,
  };
}

/** Extraction and consolidation with the configured chat model, or null without one (ENGRAM_LLM_PROVIDER=none). */
export function buildInferrer(config: Config, logger?: Logger): Extractor | null {
  const chat = createChatModel(config);
  if (!chat) return null;
  const { extractCandidates: candidates, extractMaxFacts: maxFacts } = config.memory;
  return new Extractor(chat, { candidates, maxFacts, ...(logger && { logger }) });
}

/** The search pipeline's settings from the config. */
export function searchOptions(config: Config): SearchOptions {
  const {
    rrfK,
    keywordWeight,
    vectorWeight,
    candidates,
    contextWindow,
    contextFollowing,
    contextPreceding,
    recencyHalfLifeDays,
    recencyWeight,
    minRelevance,
    keywordCoverageFloor,
  } = config.search;
  return {
    minRelevance,
    keywordCoverageFloor,
    recency: { halfLifeDays: recencyHalfLifeDays, weight: recencyWeight },
    k: rrfK,
    keywordWeight,
    vectorWeight,
    candidates,
    // The best 30 fused memories (or the result limit, if larger) lend context.
    context: { window: contextWindow, following: contextFollowing, preceding: contextPreceding, sources: 30 },
  };
}

/**
 * Opens the knowledge base the config describes over `service`, or returns null when it is turned
 * off — or cannot open (no `git` command): the server then runs without it, and says why.
 */
export async function openKnowledgeBase(
  config: Config,
  service: MemoryService,
  logger: Logger,
): Promise<KnowledgeBase | null> {
  if (!config.kb.enabled) return null;
  const { dir, remote, ...rest } = config.kb;
  const kb = new KnowledgeBase(service, {
    ...rest,
    dir: dir ?? join(config.dataDir, 'kb'),
    remote,
    onProblem: (path, error) => logger.warn({ path, err: (error as Error).message }, 'knowledge base note not indexed'),
    onPushFailed: (message) => logger.warn({ err: message }, 'knowledge base push failed; the next commit retries'),
  });
  try {
    await kb.init();
    return kb;
  } catch (error) {
    await kb.close().catch(() => undefined);
    logger.warn({ err: (error as Error).message }, 'knowledge base unavailable; running without it');
    return null;
  }
}

/** Opens the configured store and embedder and returns a ready MemoryService. */
export async function openService(config: Config, shared: SharedResources = {}): Promise<MemoryService> {
  const { store, embedder } = buildParts(config, shared);
  const service = new MemoryService({
    store,
    embedder,
    search: searchOptions(config),
    maintenance: maintenanceOptions(config),
    inferrer: buildInferrer(config, shared.logger),
  });
  try {
    await service.init();
  } catch (error) {
    await service.close().catch(() => undefined);
    throw error;
  }
  return traced(service, 'service', ['observe', 'now', 'validateExtract', 'validateAdd']);
}
