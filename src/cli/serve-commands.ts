/** `engram serve`, `engram bot` and `engram mcp`: the long-running front ends. */
import type { Command } from 'commander';
import {
  checkBotConfig,
  createBot,
  type EngramClient,
  HttpClient,
  LocalClient,
  startBot,
  type TelegramBot,
} from '../bot/index.js';
import { EngramError } from '../core/errors.js';
import { createJobs } from '../jobs/index.js';
import { createChatModel } from '../llm/index.js';
import { createLogger } from '../logger.js';
import { openKnowledgeBase, openService } from '../runtime.js';
import { runStdio } from '../server/mcp/stdio.js';
import { startServer } from '../server/server.js';
import { connectRedis } from '../shared/redis.js';
import { startTracing } from '../telemetry/index.js';
import { withoutCredentials } from '../util/credentials.js';
import { configFrom, portNumber, prepareDataDir, userOption } from './common.js';

export function registerServeCommands(program: Command): void {
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
      const tracing = await startTracing();
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
      let close = async (): Promise<void> => {};
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
      const tracing = await startTracing();
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
}
