import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { type Config, type ConfigInput, configSchema } from './config-schema.js';
import { ConfigError } from './core/errors.js';

/**
 * Loading the settings: the config file, the environment (each variable and the setting it sets)
 * and CLI flags, merged and parsed once by the one schema (config-schema.ts), then frozen.
 */

/** The schema's types, and settings errors (an `EngramError`, core/errors.ts), for every importer of config.js. */
export { type Config, ConfigError, type ConfigInput, configSchema };

/** Environment variables and the setting each one sets (dot path). `_FILE` variants read secrets from files. */
export const ENV_VARS = {
  ENGRAM_HOST: 'host',
  ENGRAM_PORT: 'port',
  ENGRAM_DATA_DIR: 'dataDir',
  ENGRAM_STORE: 'store',
  ENGRAM_EMBEDDER: 'embedder',
  ENGRAM_LOG_LEVEL: 'logLevel',
  ENGRAM_SHUTDOWN_GRACE_MS: 'shutdownGraceMs',
  ENGRAM_MCP_STATELESS: 'mcp.stateless',
  ENGRAM_MCP_ALLOWED_ORIGINS: 'mcp.allowedOrigins',
  ENGRAM_AUTH: 'auth.mode',
  ENGRAM_DEFAULT_USER: 'auth.defaultUser',
  ENGRAM_SQLITE_PATH: 'sqlite.path',
  ENGRAM_SQLITE_SYNCHRONOUS: 'sqlite.synchronous',
  ENGRAM_SQLITE_READERS: 'sqlite.readers',
  ENGRAM_SQLITE_BUSY_TIMEOUT_MS: 'sqlite.busyTimeoutMs',
  ENGRAM_SQLITE_CACHE_MB: 'sqlite.cacheMb',
  ENGRAM_SQLITE_MMAP_MB: 'sqlite.mmapMb',
  ENGRAM_SQLITE_ANN_MIN_MEMORIES: 'sqlite.annMinMemories',
  ENGRAM_SQLITE_ANN_THREADS: 'sqlite.annThreads',
  ENGRAM_SQLITE_ANN_MEMORY: 'sqlite.annMemory',
  ENGRAM_REDIS_URL: 'redis.url',
  ENGRAM_POSTGRES_URL: 'postgres.url',
  ENGRAM_POSTGRES_SCHEMA: 'postgres.schema',
  ENGRAM_POSTGRES_POOL_MAX: 'postgres.poolMax',
  ENGRAM_POSTGRES_STATEMENT_TIMEOUT_MS: 'postgres.statementTimeoutMs',
  ENGRAM_POSTGRES_HNSW: 'postgres.hnsw',
  ENGRAM_REDIS_EMBED_CACHE_TTL_SECONDS: 'redis.embedCacheTtlSeconds',
  ENGRAM_POSTGRES_EF_SEARCH: 'postgres.efSearch',
  ENGRAM_EMBED_BACKEND: 'embed.backend',
  ENGRAM_EMBED_THREADS: 'embed.threads',
  ENGRAM_EMBED_CACHE_SIZE: 'embed.cacheSize',
  ENGRAM_EMBED_QUEUE_SIZE: 'embed.queueSize',
  ENGRAM_EMBED_QUEUE_WAIT_MS: 'embed.queueWaitMs',
  ENGRAM_EMBED_QUERY_WORKER: 'embed.queryWorker',
  ENGRAM_MODEL_SERVER_URL: 'modelServer.url',
  ENGRAM_MODEL_SERVER_API_KEY: 'modelServer.apiKey',
  ENGRAM_OPENAI_BASE_URL: 'openai.baseUrl',
  ENGRAM_OPENAI_API_KEY: 'openai.apiKey',
  ENGRAM_OPENAI_MODEL: 'openai.model',
  ENGRAM_OPENAI_DIMENSION: 'openai.dimension',
  ENGRAM_OPENAI_BATCH_SIZE: 'openai.batchSize',
  ENGRAM_OPENAI_TIMEOUT_MS: 'openai.timeoutMs',
  ENGRAM_ONNX_PATH: 'onnx.path',
  ENGRAM_ONNX_THREADS: 'onnx.threads',
  ENGRAM_ONNX_MAX_BATCH_SIZE: 'onnx.maxBatchSize',
  ENGRAM_ONNX_PREFIX: 'onnx.prefix',
  ENGRAM_SEARCH_RRF_K: 'search.rrfK',
  ENGRAM_SEARCH_KEYWORD_COVERAGE_FLOOR: 'search.keywordCoverageFloor',
  ENGRAM_SEARCH_MIN_RELEVANCE: 'search.minRelevance',
  ENGRAM_SEARCH_KEYWORD_WEIGHT: 'search.keywordWeight',
  ENGRAM_SEARCH_VECTOR_WEIGHT: 'search.vectorWeight',
  ENGRAM_SEARCH_CANDIDATES: 'search.candidates',
  ENGRAM_SEARCH_CONTEXT_WINDOW: 'search.contextWindow',
  ENGRAM_SEARCH_CONTEXT_FOLLOWING: 'search.contextFollowing',
  ENGRAM_SEARCH_CONTEXT_PRECEDING: 'search.contextPreceding',
  ENGRAM_SEARCH_RECENCY_HALF_LIFE_DAYS: 'search.recencyHalfLifeDays',
  ENGRAM_SEARCH_RECENCY_WEIGHT: 'search.recencyWeight',
  ENGRAM_INFER_DEFAULT: 'memory.inferDefault',
  ENGRAM_NEAR_DUPLICATE_SIMILARITY: 'memory.nearDuplicateSimilarity',
  ENGRAM_NEAR_DUPLICATE_OVERLAP: 'memory.nearDuplicateOverlap',
  ENGRAM_NEAR_DUPLICATE_COVERAGE: 'memory.nearDuplicateCoverage',
  ENGRAM_NEAR_DUPLICATE_STRICT_WORDS: 'memory.nearDuplicateStrictWords',
  ENGRAM_SWEEP_INTERVAL_SECONDS: 'memory.sweepIntervalSeconds',
  ENGRAM_TRACK_ACCESS: 'memory.trackAccess',
  ENGRAM_ACCESS_FLUSH_MS: 'memory.accessFlushMs',
  ENGRAM_EXTRACT_ON_ADD: 'memory.extractOnAdd',
  ENGRAM_EXTRACT_CANDIDATES: 'memory.extractCandidates',
  ENGRAM_EXTRACT_MAX_FACTS: 'memory.extractMaxFacts',
  ENGRAM_LLM_PROVIDER: 'llm.provider',
  ENGRAM_LLM_BASE_URL: 'llm.baseUrl',
  ENGRAM_LLM_API_KEY: 'llm.apiKey',
  ENGRAM_LLM_MODEL: 'llm.model',
  ENGRAM_LLM_TIMEOUT_MS: 'llm.timeoutMs',
  ENGRAM_LLM_MAX_RETRIES: 'llm.maxRetries',
  ENGRAM_LLM_CONCURRENCY: 'llm.concurrency',
  ENGRAM_LLM_TEMPERATURE: 'llm.temperature',
  ENGRAM_LLM_MAX_STEPS: 'llm.maxSteps',
  ENGRAM_LLM_PRICE_PROMPT_PER_MTOK: 'llm.pricePromptPerMTok',
  ENGRAM_LLM_PRICE_COMPLETION_PER_MTOK: 'llm.priceCompletionPerMTok',
  ENGRAM_KB_ENABLED: 'kb.enabled',
  ENGRAM_KB_DIR: 'kb.dir',
  ENGRAM_KB_REMOTE: 'kb.remote',
  ENGRAM_KB_BRANCH: 'kb.branch',
  ENGRAM_KB_PUSH_ATTEMPTS: 'kb.pushAttempts',
  ENGRAM_KB_PUSH_BACKOFF_MS: 'kb.pushBackoffMs',
  ENGRAM_KB_AUTHOR_NAME: 'kb.authorName',
  ENGRAM_KB_AUTHOR_EMAIL: 'kb.authorEmail',
  ENGRAM_KB_DEFAULT_OWNER: 'kb.defaultOwner',
  ENGRAM_KB_WATCH: 'kb.watch',
  ENGRAM_KB_MAX_SECTIONS: 'kb.maxSections',
  ENGRAM_KB_MAX_NOTE_BYTES: 'kb.maxNoteBytes',
  ENGRAM_TELEGRAM_TOKEN: 'telegram.token',
  ENGRAM_TELEGRAM_ALLOWED_IDS: 'telegram.allowedIds',
  ENGRAM_TELEGRAM_API_ROOT: 'telegram.apiRoot',
  ENGRAM_TELEGRAM_BURST_MS: 'telegram.burstMs',
  ENGRAM_TELEGRAM_WEBHOOK_URL: 'telegram.webhookUrl',
  ENGRAM_TELEGRAM_WEBHOOK_SECRET: 'telegram.webhookSecret',
  ENGRAM_TELEGRAM_USER_PREFIX: 'telegram.userPrefix',
  ENGRAM_TELEGRAM_USERS: 'telegram.users',
  ENGRAM_BOT_SERVER_URL: 'telegram.serverUrl',
  ENGRAM_BOT_API_KEY: 'telegram.apiKey',
  ENGRAM_JOBS_CONCURRENCY: 'jobs.concurrency',
  ENGRAM_JOBS_MAX_ATTEMPTS: 'jobs.maxAttempts',
  ENGRAM_JOBS_POLL_MS: 'jobs.pollMs',
  ENGRAM_JOBS_LEASE_MS: 'jobs.leaseMs',
  ENGRAM_JOBS_BACKOFF_MS: 'jobs.backoffMs',
  ENGRAM_JOBS_SHUTDOWN_GRACE_MS: 'jobs.shutdownGraceMs',
  ENGRAM_JOBS_RETENTION_HOURS: 'jobs.retentionHours',
  ENGRAM_BACKUP_INTERVAL_MINUTES: 'backup.intervalMinutes',
  ENGRAM_BACKUP_DIR: 'backup.dir',
  ENGRAM_BACKUP_KEEP: 'backup.keep',
  ENGRAM_MAX_BODY_BYTES: 'limits.maxBodyBytes',
  ENGRAM_USER_MAX_MEMORIES: 'limits.userMaxMemories',
  ENGRAM_USER_MAX_BYTES: 'limits.userMaxBytes',
  ENGRAM_RATE_LIMIT_PER_MINUTE: 'limits.rateLimitPerMinute',
} as const;

/** Variables holding secrets: each may instead name a file with `<NAME>_FILE`. */
export const SECRET_VARS: ReadonlySet<string> = new Set([
  'ENGRAM_OPENAI_API_KEY',
  'ENGRAM_LLM_API_KEY',
  'ENGRAM_MODEL_SERVER_API_KEY',
  'ENGRAM_POSTGRES_URL',
  'ENGRAM_REDIS_URL',
  'ENGRAM_KB_REMOTE',
  'ENGRAM_TELEGRAM_TOKEN',
  'ENGRAM_TELEGRAM_WEBHOOK_SECRET',
  'ENGRAM_BOT_API_KEY',
]);

type Tree = { [key: string]: unknown };

function setPath(target: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys.at(-1) as string] = value;
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object'
        ? merge(prev as Tree, value as Tree)
        : value;
  }
  return out;
}

function fromEnv(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  for (const [name, path] of Object.entries(ENV_VARS)) {
    let value = env[name];
    const file = env[`${name}_FILE`];
    if (value === undefined && file !== undefined && SECRET_VARS.has(name)) {
      try {
        value = readFileSync(file, 'utf8').trim();
      } catch (error) {
        throw new ConfigError(`${name}_FILE: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    if (value !== undefined && value !== '') setPath(tree, path, value);
  }
  return tree;
}

/** The variable behind a setting, or behind the setting an issue's path is inside (`telegram.allowedIds.0`). */
function envNameOf(path: string): { name: string; path: string } | undefined {
  for (let parts = path.split('.'); parts.length > 0; parts = parts.slice(0, -1)) {
    const prefix = parts.join('.');
    const name = Object.entries(ENV_VARS).find(([, p]) => p === prefix)?.[0];
    if (name) return { name, path: prefix };
  }
  return undefined;
}

/**
 * Variables of Engram's deployment files (deploy/compose.yaml reads them from the same `.env`):
 * not settings, but not typos either.
 */
const OTHER_VARS = new Set([
  'ENGRAM_CONFIG',
  'ENGRAM_IMAGE',
  'ENGRAM_PUBLISH',
  'ENGRAM_PG_PUBLISH',
  'ENGRAM_REPLICAS',
  'ENGRAM_CPUS',
  'ENGRAM_MEMORY',
]);

/**
 * One warning per `ENGRAM_*` variable that is no setting (a typo is otherwise silently ignored),
 * with the closest setting's name.
 */
export function unknownEnvWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = [...Object.keys(ENV_VARS), ...[...SECRET_VARS].map((name) => `${name}_FILE`), ...OTHER_VARS];
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter((name) => name.startsWith('ENGRAM_') && !knownSet.has(name) && !name.startsWith('ENGRAM_TEST_'))
    .sort()
    .map((name) => `${name} is not an Engram setting (did you mean ${closest(name, known)}?); it is ignored`);
}

/**
 * Parses the configuration once and freezes it. Fails fast with a message naming the variable.
 * `overrides` are CLI flags (already in schema shape).
 */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; file?: string; overrides?: Tree } = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.ENGRAM_CONFIG;
  let fromFile: Tree = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Tree;
    } catch (error) {
      throw new ConfigError(`config file ${file}: ${(error as Error).message}`);
    }
  }
  const raw = withModelServer(merge(merge(fromFile, fromEnv(env)), options.overrides ?? {}));
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const variable = envNameOf(path);
      return `  ${variable ? `${variable.name} (${variable.path})` : path || '(root)'}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  config.dataDir = resolve(config.dataDir);
  return deepFreeze(config);
}

/** Builds a config for tests and embedding: defaults plus the given values, no environment. */
export function testConfig(values: ConfigInput = {}): Config {
  return deepFreeze(configSchema.parse(withModelServer(values as Tree)));
}

/** `modelServer` as the default of the chat model's and the embedder's own URL and key (before defaults apply). */
function withModelServer(raw: Tree): Tree {
  const server = raw.modelServer as { url?: unknown; apiKey?: unknown } | undefined;
  if (server?.url === undefined && server?.apiKey === undefined) return raw;
  const fill = (section: unknown, urlKey: string): Tree => {
    const current = (section ?? {}) as Tree;
    return {
      ...(server.url !== undefined && { [urlKey]: server.url }),
      ...(server.apiKey !== undefined && { apiKey: server.apiKey }),
      ...current,
    };
  };
  return { ...raw, llm: fill(raw.llm, 'baseUrl'), openai: fill(raw.openai, 'baseUrl') };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
