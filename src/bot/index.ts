/**
 * Running the Telegram bot: in the server's process (`engram serve --bot`, long polling or a
 * webhook on the server's port), or as its own service (`engram bot`) against a remote Engram
 * server (ENGRAM_BOT_SERVER_URL + an admin ENGRAM_BOT_API_KEY) or a local data directory.
 */
import { join } from 'node:path';
import { GrammyError, HttpError, webhookCallback } from 'grammy';
import type { EngramClient } from '../client/engram-client.js';
import type { Config } from '../config.js';
import { EngramError } from '../core/errors.js';
import type { ChatModel } from '../llm/index.js';
import type { Logger } from '../logger.js';
import { TelegramBot } from './bot.js';

export { type EngramClient, HttpClient, LocalClient } from '../client/engram-client.js';
export { TelegramBot } from './bot.js';

export const WEBHOOK_PATH = '/telegram/webhook';

/** The bot's token, or a clear error when the config cannot run a bot (checked before anything is opened). */
export function checkBotConfig(config: Config): string {
  const { token, allowedIds, users } = config.telegram;
  if (!token) throw new EngramError('invalid_request', 'the bot needs ENGRAM_TELEGRAM_TOKEN (from @BotFather)');
  if (allowedIds.length === 0 && Object.keys(users).length === 0) {
    throw new EngramError(
      'invalid_request',
      'ENGRAM_TELEGRAM_ALLOWED_IDS and ENGRAM_TELEGRAM_USERS are empty, so the bot would serve nobody; list the Telegram user ids it may serve',
    );
  }
  return token;
}

/** The bot for this config, or a clear error when the config cannot run one. */
export function createBot(
  config: Config,
  client: EngramClient,
  logger: Logger,
  llm: ChatModel | null = null,
): TelegramBot {
  const token = checkBotConfig(config);
  const { allowedIds, apiRoot, burstMs, userPrefix, users } = config.telegram;
  const linked = new Map(Object.entries(users).map(([telegramId, userId]) => [Number(telegramId), userId]));
  return new TelegramBot({
    token,
    allowedIds: [...new Set([...allowedIds, ...linked.keys()])],
    users: linked,
    apiRoot,
    burstMs,
    userPrefix,
    stateFile: join(config.dataDir, 'bot', 'state.json'),
    client,
    logger,
    llm,
    maxSteps: config.llm.maxSteps,
  });
}

/**
 * Starts the bot: with ENGRAM_TELEGRAM_WEBHOOK_URL and an HTTP app to mount it on, Telegram calls
 * `POST /telegram/webhook` (checked against ENGRAM_TELEGRAM_WEBHOOK_SECRET); otherwise long polling.
 */
/** Where the webhook handler is mounted (the server's Hono app). */
export interface WebhookHost {
  post(path: string, handler: (c: never) => Promise<Response> | Response): unknown;
}

export async function startBot(bot: TelegramBot, config: Config, app?: WebhookHost): Promise<void> {
  try {
    await connectBot(bot, config, app);
  } catch (error) {
    throw telegramError(error, config);
  }
}

/** What went wrong reaching Telegram, in one line that says what to do. */
function telegramError(error: unknown, config: Config): unknown {
  if (error instanceof GrammyError && (error.error_code === 401 || error.error_code === 404)) {
    return new EngramError(
      'invalid_request',
      `Telegram refused ENGRAM_TELEGRAM_TOKEN (${error.error_code} ${error.description}): copy the bot's token from @BotFather again`,
    );
  }
  if (error instanceof GrammyError) {
    return new EngramError('unavailable', `Telegram answered ${error.error_code} ${error.description}`);
  }
  if (error instanceof HttpError) {
    return new EngramError(
      'unavailable',
      `cannot reach Telegram at ${config.telegram.apiRoot} (${(error.error as Error)?.message ?? error.message}); check the network or ENGRAM_TELEGRAM_API_ROOT`,
    );
  }
  return error;
}

async function connectBot(bot: TelegramBot, config: Config, app?: WebhookHost): Promise<void> {
  const { webhookUrl, webhookSecret } = config.telegram;
  if (!webhookUrl) {
    await bot.start();
    return;
  }
  if (!app)
    throw new EngramError('invalid_request', 'webhook mode runs inside `engram serve --bot`; `engram bot` polls');
  if (!webhookSecret) {
    throw new EngramError(
      'invalid_request',
      'webhook mode needs ENGRAM_TELEGRAM_WEBHOOK_SECRET, so only Telegram can post updates',
    );
  }
  await bot.prepare();
  app.post(WEBHOOK_PATH, webhookCallback(bot.bot, 'hono', { secretToken: webhookSecret }));
  await bot.bot.api.setWebhook(webhookUrl, { secret_token: webhookSecret, allowed_updates: ['message'] });
}
