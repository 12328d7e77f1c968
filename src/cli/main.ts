import { once } from 'node:events';
import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError, Option } from 'commander';
import { KeyStore } from '../auth/key-store.js';
import { parseStoreSpec } from '../backends.js';
import {
  checkBotConfig,
  createBot,
  type EngramClient,
  HttpClient,
  LocalClient,
  startBot,
  type TelegramBot,
} from '../bot/index.js';
import { type Config, ConfigError, loadConfig, unknownEnvWarnings } from '../config.js';
import { EngramError } from '../core/errors.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import { reindex } from '../core/reindex.js';
import { exportUser, importUser } from '../core/transfer.js';
import { embedderNames } from '../embed/registry.js';
import { createJobs } from '../jobs/index.js';
import { createChatModel } from '../llm/index.js';
import { createLogger } from '../logger.js';
import { buildParts, openKnowledgeBase, openService } from '../runtime.js';
import { runStdio } from '../server/mcp/stdio.js';
import { startServer } from '../server/server.js';
import { connectRedis } from '../shared/redis.js';
import { refuseWhileServing } from '../shared/serving.js';
import { copyStore } from '../stores/copy.js';
import { createStore, STORE_NAMES } from '../stores/registry.js';
import type { MemoryStore } from '../stores/store.js';
import { startTracing } from '../telemetry/index.js';
import { withoutCredentials } from '../util/credentials.js';
import { registerBackupCommands } from './backup-commands.js';
import { registerEraseCommands } from './erase-commands.js';
import { formatMemory, formatSearchResult, progressBar } from './format.js';
import { registerMcpConfigCommand } from './mcp-config.js';

const CLI_ACTOR: Actor = { name: 'cli', source: 'cli' };

/** A `--from`/`--to` store spec → a store (not yet initialised), through the same registry as the config's. */
function storeFromSpec(spec: string, config: Config): MemoryStore {
  const { name, options } = parseStoreSpec(spec, config);
  return createStore(name, options);
}

interface GlobalOptions {
  config?: string;
  dataDir?: string;
  store?: string;
  embedder?: string;
}

const positiveInt = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive whole number');
  return parsed;
};
const portNumber = (value: string): number => {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed > 65_535) throw new InvalidArgumentError('expected a port number, 0–65535');
  return parsed;
};
const parseJsonOption = (value: string): unknown => {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON, e.g. {"project":"alpha"}');
  }
};
const csv = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function configFrom(command: Command, extra: Record<string, unknown> = {}): Config {
  const global = command.optsWithGlobals<GlobalOptions>();
  const overrides: Record<string, unknown> = { ...extra };
  if (global.dataDir !== undefined) overrides.dataDir = global.dataDir;
  if (global.store !== undefined) overrides.store = global.store;
  if (global.embedder !== undefined) overrides.embedder = global.embedder;
  return loadConfig({ ...(global.config !== undefined && { file: global.config }), overrides });
}

/** Creates the data directory if needed; one line saying what to do when it cannot be written. */
function prepareDataDir(config: Config): void {
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    accessSync(config.dataDir, constants.W_OK);
  } catch (error) {
    throw new ConfigError(
      `cannot write the data directory ${config.dataDir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ` +
        'choose another with --data-dir or ENGRAM_DATA_DIR, or give this user write access to it',
    );
  }
}

/**
 * Runs a command against an opened service and always closes it. A one-shot command embeds with
 * one model worker: a second one for queries (the server's default) would only double its start.
 */
async function withService<T>(
  command: Command,
  work: (service: MemoryService, config: Config) => Promise<T>,
): Promise<T> {
  const config = configFrom(command, { embed: { queryWorker: false } });
  prepareDataDir(config);
  const service = await openService(config);
  try {
    return await work(service, config);
  } finally {
    await service.close();
  }
}

const userOption = () => new Option('-u, --user <id>', 'the user whose memories to use').default('default');

export function buildCli(): Command {
  const program = new Command('engram')
    .description('Engram: self-hosted long-term memory for AI assistants')
    .version('0.1.0')
    .option('-c, --config <file>', 'JSON config file (see docs/configuration.md)')
    .option(
      '-d, --data-dir <dir>',
      'data directory (ENGRAM_DATA_DIR; default ./data in a git checkout, else the per-user data directory)',
    )
    .addOption(new Option('--store <name>', 'storage backend (ENGRAM_STORE)').choices(STORE_NAMES))
    .addOption(new Option('--embedder <name>', 'embedder (ENGRAM_EMBEDDER)').choices(embedderNames))
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the HTTP server: REST /v1, MCP at /mcp and /sse, /health, /metrics')
    .option('-H, --host <host>', 'address to listen on (ENGRAM_HOST, default 127.0.0.1)')
    .option('-p, --port <port>', 'port (ENGRAM_PORT, default 8765)', portNumber)
    .option('--bot', 'also run the Telegram bot in this process (see docs/bot.md)')
    .action(async (options: { host?: string; port?: number; bot?: boolean }, command: Command) => {
      const config = configFrom(command, {
        ...(options.host !== undefined && { host: options.host }),
        ...(options.port !== undefined && { port: options.port }),
      });
      const logger = createLogger(config.logLevel);
      // A bot configured wrongly fails the start before anything is opened.
      if (options.bot) checkBotConfig(config);
      prepareDataDir(config);
      const tracing = startTracing();
      if (tracing) logger.info({ endpoint: withoutCredentials(tracing.endpoint) }, 'exporting traces');
      const started = performance.now();
      // Redis first: the embedder's shared cache and the server's rate limits both use it.
      const redis = config.redis.url ? await connectRedis(config.redis.url) : null;
      const service = await openService(config, { redis, logger }).catch(async (error: unknown) => {
        redis?.disconnect();
        throw error;
      });
      const server = await startServer(config, service, logger, redis).catch(async (error: unknown) => {
        await service.close();
        redis?.disconnect();
        throw error;
      });
      let bot: TelegramBot | null = null;
      if (options.bot) {
        // The bot failing to reach Telegram (a revoked token, no network) never takes the memory server down.
        try {
          bot = createBot(config, new LocalClient(service, server.deps.kb), logger, server.deps.llm);
          await startBot(bot, config, server.app);
        } catch (error) {
          await bot?.stop({ flush: false }).catch(() => undefined);
          bot = null;
          logger.error({ err: (error as Error).message }, 'telegram bot not started');
          process.stderr.write(
            `engram: the Telegram bot did not start: ${(error as Error).message}. The memory server keeps running.\n`,
          );
        }
      }
      logger.info({ ms: Math.round(performance.now() - started) }, 'ready');
      process.stderr.write(
        `Engram is ready: REST ${server.url}/v1, MCP ${server.url}/mcp, web UI ${server.url}/ — data in ${config.dataDir}\n`,
      );
      const stop = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await bot?.stop();
        await server.close();
        await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'flushing traces failed'));
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });

  program
    .command('bot')
    .description('run the Telegram bot on its own: against ENGRAM_BOT_SERVER_URL, or this data directory')
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command);
      const logger = createLogger(config.logLevel);
      checkBotConfig(config);
      const { serverUrl, apiKey } = config.telegram;
      let close = async () => undefined as void;
      let client: EngramClient;
      if (serverUrl) {
        if (!apiKey)
          throw new EngramError('invalid_request', 'ENGRAM_BOT_SERVER_URL needs ENGRAM_BOT_API_KEY (an admin key)');
        client = new HttpClient(serverUrl, apiKey);
      } else {
        prepareDataDir(config);
        const service = await openService(config);
        const kb = await openKnowledgeBase(config, service, logger);
        client = new LocalClient(service, kb);
        close = async () => {
          await kb?.close();
          await service.close();
        };
      }
      const bot = createBot(config, client, logger, createChatModel(config));
      try {
        await startBot(bot, config);
      } catch (error) {
        await close();
        throw error;
      }
      const stop = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await bot.stop();
        await close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });

  program
    .command('mcp')
    .description('serve MCP over stdio (for Claude Desktop, IDEs and other local MCP clients)')
    .addOption(userOption())
    .action(async (options: { user: string }, command: Command) => {
      const config = configFrom(command);
      prepareDataDir(config);
      const tracing = startTracing();
      const service = await openService(config);
      // The process runs jobs too: an async store_memory finishes while the client stays connected
      // (and a job left unfinished is resumed by the next process on the store).
      const jobs = createJobs(config, service);
      jobs.runner.start();
      try {
        await runStdio(service, options.user, { jobs: jobs.queue });
      } finally {
        await jobs.runner.stop(config.jobs.shutdownGraceMs);
        await service.close();
        await tracing?.shutdown().catch(() => undefined);
      }
    });

  program
    .command('add')
    .description('store a memory')
    .argument('<content...>', 'what to remember')
    .addOption(userOption())
    .option('--category <name>', 'category (default general)')
    .option('--tags <list>', 'comma-separated tags', csv)
    .option('--metadata <json>', 'metadata as a JSON object', parseJsonOption)
    .option('--session <id>', 'the conversation it comes from (search lends context along a session)')
    .option('--json', 'print JSON')
    .action(
      async (
        words: string[],
        options: {
          user: string;
          category?: string;
          tags?: string[];
          metadata?: unknown;
          session?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const result = await service.add(
            options.user,
            {
              content: words.join(' '),
              category: options.category,
              tags: options.tags,
              metadata: options.metadata as Record<string, never>,
              sessionId: options.session,
            },
            CLI_ACTOR,
          );
          if (options.json) print(JSON.stringify(result, null, 2));
          else print(`${result.duplicate ? 'already stored' : 'stored'} ${result.memory.id}`);
        });
      },
    );

  program
    .command('search')
    .description('search memories; each result shows why it ranked')
    .argument('<query...>', 'what to look for')
    .addOption(userOption())
    .addOption(new Option('--mode <mode>', 'search mode').choices(['hybrid', 'vector', 'keyword']).default('hybrid'))
    .option('-n, --limit <n>', 'how many results', positiveInt, 10)
    .option('--category <name>', 'only this category')
    .option('--tags <list>', 'only memories with any of these tags', csv)
    .option('--json', 'print JSON')
    .action(
      async (
        words: string[],
        options: {
          user: string;
          mode: 'hybrid' | 'vector' | 'keyword';
          limit: number;
          category?: string;
          tags?: string[];
          json?: boolean;
        },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const response = await service.search(options.user, {
            query: words.join(' '),
            mode: options.mode,
            limit: options.limit,
            filter: { category: options.category, tagsAny: options.tags },
          });
          if (options.json) return print(JSON.stringify(response, null, 2));
          if (response.results.length === 0) return print('no matching memories');
          for (const [index, result] of response.results.entries()) print(formatSearchResult(result, index + 1));
        });
      },
    );

  program
    .command('list')
    .description('list memories, newest first')
    .addOption(userOption())
    .option('-n, --limit <n>', 'page size', positiveInt, 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--category <name>', 'only this category')
    .option('--tags <list>', 'only memories with any of these tags', csv)
    .option('--json', 'print JSON')
    .action(
      async (
        options: { user: string; limit: number; cursor?: string; category?: string; tags?: string[]; json?: boolean },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const page = await service.list(options.user, {
            limit: options.limit,
            cursor: options.cursor,
            filter: { category: options.category, tagsAny: options.tags },
          });
          if (options.json) return print(JSON.stringify(page, null, 2));
          for (const memory of page.items) print(formatMemory(memory));
          if (page.nextCursor) print(`\nmore: engram list --cursor ${page.nextCursor}`);
        });
      },
    );

  program
    .command('export')
    .description("export a user's memories, vectors and history as JSONL")
    .addOption(userOption())
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (options: { user: string; out?: string }, command: Command) => {
      await withService(command, async (service) => {
        const out = options.out ? createWriteStream(options.out) : process.stdout;
        for await (const line of exportUser(service, options.user)) {
          if (!out.write(line)) await once(out, 'drain');
        }
        if (options.out) await new Promise<void>((resolve) => out.end(() => resolve()));
      });
    });

  program
    .command('import')
    .description('import JSONL (from `engram export` or /v1/export); duplicates are skipped')
    .argument('<file>', 'JSONL file, or - for stdin')
    .addOption(userOption())
    .action(async (file: string, options: { user: string }, command: Command) => {
      await withService(command, async (service) => {
        const input = file === '-' ? process.stdin : createReadStream(file);
        const bar = progressBar('import', 'lines');
        bar.start(0, 0);
        const report = await importUser(
          service,
          options.user,
          createInterface({ input, crlfDelay: Infinity }),
          CLI_ACTOR,
          (r) => {
            const done = r.imported + r.duplicates;
            bar.setTotal(done);
            bar.update(done);
          },
        );
        bar.stop();
        print(
          `imported ${report.imported}, skipped ${report.duplicates} duplicates, ${report.history} history entries`,
        );
        for (const error of report.errors.slice(0, 20)) process.stderr.write(`line ${error.line}: ${error.message}\n`);
        if (report.errors.length > 0) {
          process.stderr.write(`${report.errors.length} lines could not be imported\n`);
          process.exitCode = 1;
        }
      });
    });

  program
    .command('reindex')
    .description('re-embed every memory with the configured embedder (after changing ENGRAM_EMBEDDER)')
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command);
      await refuseWhileServing(config.dataDir, 'reindex');
      const { store, embedder } = buildParts(config);
      await store.init();
      await embedder.init();
      try {
        const bar = progressBar('reindex', 'memories');
        bar.start((await store.stats()).memories, 0);
        const done = await reindex(store, embedder, (count) => bar.update(count));
        bar.stop();
        print(`re-embedded ${done} memories with ${embedder.model} (${embedder.dimension}-d)`);
      } finally {
        await embedder.close();
        await store.close();
      }
    });

  program
    .command('migrate-store')
    .description('copy every memory, vector and history entry from one store to another (resumable, verified)')
    .requiredOption('--from <store>', 'sqlite:<file>, json:<data dir> or postgres:<url>')
    .requiredOption('--to <store>', 'sqlite:<file>, json:<data dir> or postgres:<url>')
    .action(async (options: { from: string; to: string }, command: Command) => {
      const config = configFrom(command);
      const source = storeFromSpec(options.from, config);
      const target = storeFromSpec(options.to, config);
      await source.init();
      try {
        await target.init();
        const bar = progressBar('migrate-store', 'memories');
        bar.start(0, 0);
        const report = await copyStore(source, target, {
          onProgress: (done, total) => {
            bar.setTotal(total);
            bar.update(done);
          },
          onStep: (step) => {
            bar.stop();
            process.stderr.write(`${step} …\n`);
          },
        });
        bar.stop();
        print(
          `copied ${report.copied} of ${report.memories} memories (${report.memories - report.copied} were there already) ` +
            `with ${report.history} history entries, and the history of ${report.deleted} deleted memories ` +
            `(${report.deletedHistory} entries); verified`,
        );
      } finally {
        await target.close();
        await source.close();
      }
    });

  registerMcpConfigCommand(program, (command) => configFrom(command), print);
  registerBackupCommands(program, (command) => configFrom(command), print);
  registerEraseCommands(program, {
    configOf: (command) => configFrom(command),
    withService: (command, work) => withService(command, (service) => work(service)),
    userOption,
    print,
    actor: CLI_ACTOR,
  });

  const keys = program.command('keys').description('manage API keys (stored hashed in <data-dir>/keys.json)');
  keys
    .command('create')
    .description('create a key; it is printed once')
    .option('--user <id>', 'bind the key to one user')
    .option('--admin', 'an admin key (may act for any user via X-User-ID)')
    .option('--name <name>', 'a label for the key')
    .action(async (options: { user?: string; admin?: boolean; name?: string }, command: Command) => {
      if (Boolean(options.user) === Boolean(options.admin)) {
        throw new EngramError('invalid_request', 'give exactly one of --user <id> or --admin');
      }
      const store = new KeyStore(configFrom(command).dataDir);
      const { record, key } = await store.create({ admin: options.admin, userId: options.user, name: options.name });
      process.stderr.write(
        `created key ${record.id} (${record.admin ? 'admin' : `user ${record.userId}`}); it is shown only once:\n`,
      );
      print(key);
    });
  keys
    .command('list')
    .description('list keys (never the secrets)')
    .action((_options: unknown, command: Command) => {
      for (const key of new KeyStore(configFrom(command).dataDir).list()) {
        const scope = key.admin ? 'admin' : `user ${key.userId}`;
        print(
          `${key.id}  ${scope.padEnd(24)} ${key.name}  created ${key.createdAt}${key.revokedAt ? `  REVOKED ${key.revokedAt}` : ''}`,
        );
      }
    });
  keys
    .command('reset')
    .description(
      'go back to keyless local mode on purpose: sets keys.json aside and forgets that keys existed ' +
        '(a server refuses every request while keys.json is missing after keys existed)',
    )
    .action((_options: unknown, command: Command) => {
      const moved = new KeyStore(configFrom(command).dataDir).reset();
      print(
        moved
          ? `keys.json moved to ${moved}; keyless local mode (loopback only) from the next request`
          : 'no keys.json; keyless local mode (loopback only) from the next request',
      );
    });
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'key id from `engram keys list`')
    .action(async (id: string, _options: unknown, command: Command) => {
      const record = await new KeyStore(configFrom(command).dataDir).revoke(id);
      print(`revoked ${record.id}`);
    });

  return program;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function main(argv: string[]): Promise<void> {
  // Everything Engram writes holds users' data: files it (and SQLite, and git) creates are 0600,
  // directories 0700, whatever the shell's umask.
  process.umask(0o077);
  try {
    // Settings in ./.env, under the environment's (which wins).
    if (existsSync('.env')) process.loadEnvFile('.env');
    for (const warning of unknownEnvWarnings()) process.stderr.write(`engram: warning: ${warning}\n`);
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof EngramError) {
      process.stderr.write(`engram: ${error.message}\n`);
    } else {
      process.stderr.write(`engram: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  }
}

await main(process.argv);
