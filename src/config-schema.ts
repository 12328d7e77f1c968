import { z } from 'zod';
import { backendIssues } from './backends.js';
import { DEFAULT_MIN_RELEVANCE } from './core/search.js';
import { embedderNames } from './embed/registry.js';
import { LLM_PROVIDER_NAMES } from './llm/registry.js';
import { STORE_NAMES } from './stores/registry.js';
import {
  SQLITE_ANN_MIN_MEMORIES,
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_MB,
  SQLITE_MMAP_MB,
  SQLITE_READERS,
} from './stores/sqlite/sqlite-config.js';
import { defaultDataDir } from './util/paths.js';

/**
 * Every setting, in one zod schema: the source of the types, the defaults and the docs
 * (docs/configuration.md lists each setting's variable, from `ENV_VARS` in config.ts; a test keeps
 * the two in step).
 * Precedence: defaults < config file (`ENGRAM_CONFIG`/`--config`, JSON) < environment (the CLI adds
 * a `./.env` file under the variables already set) < CLI flags.
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
        readers: int(0, 64).default(SQLITE_READERS),
        /** How long a write waits for another process's lock on the database before failing with 503. */
        busyTimeoutMs: int(0, 600_000).default(SQLITE_BUSY_TIMEOUT_MS),
        /** Page cache of each SQLite connection, in MiB. */
        cacheMb: int(1, 65_536).default(SQLITE_CACHE_MB),
        /** How much of the database file each reader thread reads memory-mapped, in MiB; 0 = none. */
        mmapMb: int(0, SQLITE_MMAP_MB).default(SQLITE_MMAP_MB),
        /** From how many memories a user's vector search uses an approximate index; 0 = always exact. */
        annMinMemories: int(0, 1_000_000_000).default(SQLITE_ANN_MIN_MEMORIES),
        /** Threads an approximate index build inserts with. */
        annThreads: int(1, 64).default(1),
        /** How reader threads hold an approximate index: memory-mapped (`map`) or a copy each (`load`). */
        annMemory: z.enum(['map', 'load']).default('map'),
      })
      .prefault({}),
    redis: z
      .strictObject({
        /** redis://[user:password@]host:port[/db]: what replicas share, rate-limit counters and an embedding cache (a secret). */
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
