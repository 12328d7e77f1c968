import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { z } from 'zod';
import { backendIssues } from './backends.js';
import { ConfigError } from './core/errors.js';
import { DEFAULT_MIN_RELEVANCE } from './core/search.js';
import { embedderNames } from './embed/registry.js';
import { LLM_PROVIDER_NAMES } from './llm/registry.js';
import { STORE_NAMES } from './stores/registry.js';
import { defaultDataDir } from './util/paths.js';

/** Settings errors belong to the `EngramError` family (core/errors.ts); exported here, where they are raised. */
export { ConfigError };

/**
 * Every setting, in one zod schema: the source of the types, the defaults and the docs
 * (docs/configuration.md lists each `env` name below; a test keeps the two in step).
 * Precedence: defaults < config file (`ENGRAM_CONFIG`/`--config`, JSON) < environment < CLI flags.
 */

const TELEGRAM_IDS = 'expected Telegram user ids (whole numbers), comma-separated, e.g. 12345,67890';
const TELEGRAM_USERS =
  'expected <Telegram user id>=<Engram user id> pairs, comma-separated, e.g. 12345=alice,67890=bob (user ids: 1-128 of A-Z a-z 0-9 _ . @ : -)';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

export const configSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: int(0, 65_535).default(8765),
    /** Default: `./data` in a git checkout, the per-user data directory when installed (util/paths.ts). */
    dataDir: z.string().min(1).default(defaultDataDir),
    store: z.enum(STORE_NAMES).default('sqlite'),
    embedder: z.enum(embedderNames).default('use'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** On SIGTERM: how long in-flight requests and jobs may take before connections are cut and the store closed. */
    shutdownGraceMs: int(0, 600_000).default(20_000),
    mcp: z
      .strictObject({
        /** Streamable HTTP without sessions: any replica can answer any request (JSON responses, no GET stream). */
        stateless: z.union([z.boolean(), z.stringbool()]).default(false),
        /**
         * Web origins (`https://app.example.org`, comma-separated) whose pages may call `/mcp` and `/sse`
         * with a key; a request from any other origin than the server's own is refused (403).
         */
        allowedOrigins: z
          .union([z.array(z.string()), z.string()])
          .transform((value) =>
            (Array.isArray(value) ? value : value.split(','))
              .map((origin) => origin.trim().replace(/\/+$/, ''))
              .filter(Boolean),
          )
          .pipe(z.array(z.url({ protocol: /^https?$/ })))
          .default([]),
      })
      .prefault({}),
    auth: z
      .strictObject({
        /** `auto`: keys required once any key exists or the host is not loopback; `keys`: always; `none`: never (loopback only). */
        mode: z.enum(['auto', 'keys', 'none']).default('auto'),
        defaultUser: z.string().min(1).default('default'),
      })
      .prefault({}),
    sqlite: z
      .strictObject({
        path: z.string().min(1).optional(),
        synchronous: z.enum(['full', 'normal']).default('full'),
        /** Reader threads for vector and full-text scans (the event loop never waits for one); 0 = on the main thread. */
        readers: int(0, 64).default(2),
      })
      .prefault({}),
    redis: z
      .strictObject({
        /** redis://[user:password@]host:port[/db]: shared rate-limit counters across replicas (a secret). */
        url: z.string().min(1).optional(),
        /** Seconds a vector stays in the embedding cache replicas share; 0 turns that cache off. */
        embedCacheTtlSeconds: int(0, 365 * 86_400).default(7 * 86_400),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        /** postgres://user:password@host:port/database (a secret: use ENGRAM_POSTGRES_URL_FILE in deployments). */
        url: z.string().min(1).optional(),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/)
          .default('engram'),
        poolMax: int(2, 1_000).default(10),
        statementTimeoutMs: int(100, 3_600_000).default(15_000),
        hnsw: z.union([z.boolean(), z.stringbool()]).default(true),
        efSearch: int(10, 1_000).default(100),
      })
      .prefault({}),
    embed: z
      .strictObject({
        backend: z.enum(['onnx', 'tfjs']).default('onnx'),
        threads: int(1, 64).optional(),
        cacheSize: int(0).default(10_000),
        /** Texts admitted to the embedding queue at once; more wait (back-pressure). */
        queueSize: int(1, 1_000_000).default(2_048),
        /** How long a request waits for room in the queue before a 503 `overloaded`. */
        queueWaitMs: int(0, 600_000).default(30_000),
        /** Local models: a second worker (model copy) for queries; bulk work runs at a lower CPU priority. */
        queryWorker: z.union([z.boolean(), z.stringbool()]).default(true),
      })
      .prefault({}),
    /**
     * One OpenAI-compatible model server (Ollama, vLLM, LM Studio) for chat and embeddings: the
     * default of `llm.baseUrl`/`llm.apiKey` and `openai.baseUrl`/`openai.apiKey` (docs/llm.md).
     */
    modelServer: z
      .strictObject({
        url: z.url().optional(),
        /** Its API key, when it wants one (a secret). */
        apiKey: z.string().min(1).optional(),
      })
      .prefault({}),
    openai: z
      .strictObject({
        baseUrl: z.url().default('https://api.openai.com/v1'),
        apiKey: z.string().optional(),
        model: z.string().min(1).default('text-embedding-3-small'),
        dimension: int(1).optional(),
        batchSize: int(1, 2048).default(96),
        timeoutMs: int(100).default(30_000),
      })
      .prefault({}),
    onnx: z
      .strictObject({
        /** A sentence-transformers model directory (config.json, tokenizer.json, onnx/model.onnx, …). */
        path: z.string().min(1).optional(),
        threads: int(1, 64).optional(),
        maxBatchSize: int(1, 1_024).default(32),
        prefix: z.string().max(256).default(''),
      })
      .prefault({}),
    search: z
      .strictObject({
        rrfK: z.coerce.number().min(0).default(5),
        /** Cosine similarity to the query a search result needs to be marked relevant (depends on the model). */
        minRelevance: z.coerce.number().min(-1).max(1).default(DEFAULT_MIN_RELEVANCE),
        keywordWeight: z.coerce.number().min(0).default(1),
        /** What a keyword hit covering none of the query's (idf-weighted) words still counts in fusion; 1 = off. */
        keywordCoverageFloor: z.coerce.number().min(0).max(1).default(0.3),
        vectorWeight: z.coerce.number().min(0).default(0.5),
        candidates: int(1, 1_000).default(50),
        /** Conversation context (hybrid): neighbours on each side in a session that share a match's score; 0 = off. */
        contextWindow: int(0, 10).default(2),
        /** Share of a memory's fused score lent to each following memory in its session (÷ distance). */
        contextFollowing: z.coerce.number().min(0).max(10).default(0.6),
        /** Share lent to each preceding memory (÷ distance). */
        contextPreceding: z.coerce.number().min(0).max(10).default(0.4),
        /** Recency decay in ranking: days after which a memory's weight halves; 0 = off (the default). */
        recencyHalfLifeDays: z.coerce.number().min(0).max(36_500).default(0),
        /** How much of the score decay may take away (0–1): score × (1 − w + w × 0.5^(age/half-life)). */
        recencyWeight: z.coerce.number().min(0).max(1).default(0.3),
      })
      .prefault({}),
    memory: z
      .strictObject({
        /** `infer` when an add does not say: true folds near-duplicates into what is stored. */
        inferDefault: z.union([z.boolean(), z.stringbool()]).default(true),
        /** Near-duplicate merge (adds with infer, no LLM): cosine similarity at least … */
        nearDuplicateSimilarity: z.coerce.number().min(-1).max(1).default(0.6),
        /** … and Jaccard overlap of stemmed content words at least … */
        nearDuplicateOverlap: z.coerce.number().min(0).max(1).default(0.5),
        /** … and this share of the shorter text's content words in the longer one. */
        nearDuplicateCoverage: z.coerce.number().min(0).max(1).default(1),
        /** … and the words they do not share are all filler ("user", "really", "now"). */
        nearDuplicateStrictWords: z.union([z.boolean(), z.stringbool()]).default(true),
        /** Seconds between sweeps that delete expired memories; 0 = no sweeper (expired ones stay hidden). */
        sweepIntervalSeconds: int(0, 86_400).default(60),
        /** Count reads (search results, get by id) in accessCount / lastAccessedAt. */
        trackAccess: z.union([z.boolean(), z.stringbool()]).default(true),
        /** Reads are counted in memory and written at most this often. */
        accessFlushMs: int(10, 600_000).default(5_000),
        /** With an LLM: adds with infer are extracted into facts and consolidated (add / update / noop). */
        extractOnAdd: z.union([z.boolean(), z.stringbool()]).default(true),
        /** Nearest current memories the LLM compares each extracted fact with. */
        extractCandidates: int(1, 50).default(5),
        /** Most facts kept from one extraction. */
        extractMaxFacts: int(1, 500).default(50),
      })
      .prefault({}),
    llm: z
      .strictObject({
        /** `none`: no generation (everything but chat, agent mode and grounded answers works); `openai`: any OpenAI-compatible chat endpoint; `anthropic`: the Messages API. */
        provider: z.enum(LLM_PROVIDER_NAMES).default('none'),
        /** The provider's default when unset: https://api.openai.com/v1 for openai, the SDK's (https://api.anthropic.com) for anthropic. */
        baseUrl: z.url().optional(),
        /** A secret; local servers (Ollama, vLLM) need none, Anthropic does. */
        apiKey: z.string().min(1).optional(),
        model: z.string().min(1).default('gpt-4o-mini'),
        timeoutMs: int(1_000, 600_000).default(60_000),
        maxRetries: int(0, 10).default(2),
        concurrency: int(1, 256).default(4),
        temperature: z.coerce.number().min(0).max(2).default(0.2),
        /** Tool-calling rounds an agent turn may take before it must answer. */
        maxSteps: int(1, 20).default(6),
        /** USD per million prompt tokens, for `engram_llm_cost_usd_total`; 0 counts no cost. */
        pricePromptPerMTok: z.coerce.number().min(0).max(1_000_000).default(0),
        /** USD per million completion tokens. */
        priceCompletionPerMTok: z.coerce.number().min(0).max(1_000_000).default(0),
      })
      .prefault({}),
    kb: z
      .strictObject({
        /** The git knowledge base of markdown notes (needs the `git` command). */
        enabled: z.union([z.boolean(), z.stringbool()]).default(true),
        /** The repository; default `<dataDir>/kb`. */
        dir: z.string().min(1).optional(),
        /** Remote to push each commit to (a secret when it carries a token). */
        remote: z.string().min(1).optional(),
        branch: z
          .string()
          .regex(/^[A-Za-z0-9._/-]{1,100}$/)
          .default('main'),
        pushAttempts: int(1, 20).default(5),
        pushBackoffMs: int(0, 600_000).default(2_000),
        authorName: z.string().min(1).max(100).default('Engram'),
        authorEmail: z.string().min(3).max(200).default('engram@localhost'),
        /** Owner of notes without an `owner` in their frontmatter (written by hand). */
        defaultOwner: z.string().min(1).default('default'),
        /** Re-index notes changed on disk. */
        watch: z.union([z.boolean(), z.stringbool()]).default(true),
        /** Most sections (chunks) one note is indexed as; a longer note is refused with 413. */
        maxSections: int(1, 100_000).default(1_000),
        /** Most bytes one note's index may store (each section repeats its headings); more is refused with 413. */
        maxNoteBytes: int(1_024, 1_073_741_824).default(2_097_152),
      })
      .prefault({}),
    telegram: z
      .strictObject({
        /** Bot token from @BotFather (a secret). */
        token: z.string().min(1).optional(),
        /** Telegram user ids allowed to use the bot, comma-separated; nobody else is served. */
        allowedIds: z
          .union([z.array(z.coerce.number().int()), z.string()])
          .transform((value) =>
            Array.isArray(value)
              ? value
              : value
                  .split(',')
                  .map((id) => id.trim())
                  .filter(Boolean)
                  .map(Number),
          )
          .pipe(
            z.array(z.number({ error: TELEGRAM_IDS }).int({ error: TELEGRAM_IDS }).positive({ error: TELEGRAM_IDS })),
          )
          .default([]),
        /** Bot API server (a local one: https://github.com/tdlib/telegram-bot-api). */
        apiRoot: z.url().default('https://api.telegram.org'),
        /** Forwarded messages arriving within this many ms of each other become one note. */
        burstMs: int(0, 60_000).default(2_500),
        /** Public HTTPS URL for webhook mode; without it the bot uses long polling. */
        webhookUrl: z.url().optional(),
        /** Secret Telegram sends with every webhook call (a secret). */
        webhookSecret: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,256}$/)
          .optional(),
        /**
         * Telegram accounts linked to Engram users (`12345=alice,67890=bob`): the bot acts as that
         * user, so the web UI, MCP and REST see the same memories and notes. A linked account may use
         * the bot without being in `allowedIds`.
         */
        users: z
          .union([z.record(z.string(), z.string()), z.string()])
          .transform((value) =>
            typeof value === 'string'
              ? Object.fromEntries(
                  value
                    .split(',')
                    .map((pair) => pair.trim())
                    .filter(Boolean)
                    .map((pair) => {
                      const [id = '', user = ''] = pair.split('=').map((part) => part.trim());
                      return [id, user];
                    }),
                )
              : value,
          )
          .pipe(
            z
              .record(z.string(), z.string())
              .refine(
                (users) =>
                  Object.entries(users).every(
                    ([telegramId, userId]) =>
                      /^\d+$/.test(telegramId) && /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/.test(userId),
                  ),
                { error: TELEGRAM_USERS },
              ),
          )
          .default({}),
        /** Engram user id for a Telegram user: this prefix + the numeric id. */
        userPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_.@:-]{0,32}$/)
          .default('tg-'),
        /** For `engram bot` as its own service: the Engram server to use, and an admin API key (a secret). */
        serverUrl: z.url().optional(),
        apiKey: z.string().min(1).optional(),
      })
      .prefault({}),
    backup: z
      .strictObject({
        /** Scheduled online backups of the SQLite store by the server, every this many minutes; 0 = off. */
        intervalMinutes: z.coerce.number().min(0).max(525_600).default(0),
        /** Where scheduled backups (and `engram backup` without --out) go; default `<dataDir>/backups`. */
        dir: z.string().min(1).optional(),
        /** Scheduled backups kept; older ones are deleted after each new one. */
        keep: int(1, 10_000).default(7),
      })
      .prefault({}),
    jobs: z
      .strictObject({
        /** Background jobs (async adds) this process runs at once; 0: none (other replicas run them). */
        concurrency: int(0, 256).default(2),
        /** Attempts before a job is marked failed. */
        maxAttempts: int(1, 100).default(3),
        /** How often to look for jobs enqueued by other processes or before a restart. */
        pollMs: int(10, 600_000).default(1_000),
        /** A running job's lease; renewed while it runs, so a job whose process died is resumed this long after. */
        leaseMs: int(1_000, 3_600_000).default(30_000),
        /** Wait before the first retry, doubled for each further one. */
        backoffMs: int(0, 3_600_000).default(1_000),
        /** On shutdown, how long to wait for running jobs before leaving them to their lease. */
        shutdownGraceMs: int(0, 600_000).default(10_000),
        /** Finished jobs (and their results) are deleted by the sweeper this long after they finished (fractions allowed); 0: kept. */
        retentionHours: z.coerce.number().min(0).max(87_600).default(168),
      })
      .prefault({}),
    limits: z
      .strictObject({
        maxBodyBytes: int(1_024).default(16 * 1024 * 1024),
        rateLimitPerMinute: int(0).default(1_200),
        /** Most current memories one user may hold; 0 = no limit. */
        userMaxMemories: int(0).default(0),
        /** Most bytes of memory content one user may hold; 0 = no limit. */
        userMaxBytes: int(0).default(0),
      })
      .prefault({}),
  })
  .superRefine((config, context) => {
    // What the chosen store, embedder and chat provider need (their own schemas, in their registries).
    for (const issue of backendIssues(config)) context.addIssue({ code: 'custom', ...issue });
  });

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

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
