/**
 * The Telegram front end (grammY): a thin adapter over an `EngramClient`. Only allowed Telegram
 * users are served — anyone else gets a polite refusal and nothing is stored. Each Telegram user
 * is the Engram user `<userPrefix><telegram id>`, or the user its account is linked to (ENGRAM_TELEGRAM_USERS).
 *
 * In note mode (the default) every message goes into the chat's current burst, which becomes one
 * note (bursts.ts); in ask and agent mode messages are answered from memory (conversation.ts). The
 * commands on memories and notes are commands.ts; this class wires them up and runs the bot.
 */
import { Bot, type Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { EngramClient } from '../client/engram-client.js';
import { EngramError } from '../core/errors.js';
import type { ChatModel } from '../llm/index.js';
import type { Logger } from '../logger.js';
import { Bursts } from './bursts.js';
import { COMMANDS, type HandlerDeps, memoryCommands } from './commands.js';
import { Conversations } from './conversation.js';
import { errorText, escapeHtml, forwardedFrom, HELP, savedText, statusText } from './format.js';
import { Journal, type Mode } from './journal.js';

export interface TelegramBotOptions {
  token: string;
  /** Telegram user ids the bot serves. */
  allowedIds: readonly number[];
  apiRoot: string;
  burstMs: number;
  userPrefix: string;
  /** Telegram accounts linked to Engram users (ENGRAM_TELEGRAM_USERS); the others are `<userPrefix><id>`. */
  users?: ReadonlyMap<number, string>;
  /** `<dataDir>/bot/state.json` */
  stateFile: string;
  client: EngramClient;
  logger: Logger;
  /** The chat model, when one is configured: grounded /ask answers and agent mode. */
  llm?: ChatModel | null;
  /** Tool-calling rounds an agent turn may take. */
  maxSteps?: number;
}

const REFUSAL =
  'Sorry — this is a private memory bot and you are not on its list of users. Nothing you send here is stored.';

type ChatContext = Context & { chat: { id: number } };

export class TelegramBot {
  readonly bot: Bot;
  readonly #options: TelegramBotOptions;
  readonly #journal: Journal;
  readonly #allowed: Set<number>;
  readonly #bursts: Bursts;
  readonly #conversations: Conversations;
  readonly #handlers: HandlerDeps;
  #running: Promise<void> | null = null;

  constructor(options: TelegramBotOptions) {
    this.#options = options;
    this.#journal = new Journal(options.stateFile);
    this.#allowed = new Set(options.allowedIds);
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.#handlers = {
      client: options.client,
      user: (ctx) => this.#user(ctx),
      guard: (ctx, work) => this.#guard(ctx, work),
    };
    this.#bursts = new Bursts({
      journal: this.#journal,
      client: options.client,
      api: this.bot.api,
      logger: options.logger,
      burstMs: options.burstMs,
    });
    this.#conversations = new Conversations({
      ...this.#handlers,
      llm: options.llm ?? null,
      maxSteps: options.maxSteps ?? 6,
    });
    this.#routes();
  }

  /** Loads the journal, saves bursts a previous run left, registers the commands, and starts long polling. */
  async start(): Promise<void> {
    await this.#journal.load();
    await this.#bursts.saveAll();
    await this.bot.init();
    await this.bot.api.setMyCommands(COMMANDS);
    this.#running = this.bot.start({ allowed_updates: ['message'] }).catch((error: unknown) => {
      this.#options.logger.error({ err: (error as Error).message }, 'telegram polling stopped');
    });
    this.#options.logger.info({ bot: this.bot.botInfo.username }, 'telegram bot polling');
  }

  /** Saves the journal's bursts without waiting for Telegram (webhook mode) — call once, before handling updates. */
  async prepare(): Promise<void> {
    await this.#journal.load();
    await this.#bursts.saveAll();
    await this.bot.init();
    await this.bot.api.setMyCommands(COMMANDS);
  }

  /**
   * Stops polling. With `flush` (a graceful stop) pending bursts are saved now; without, they stay
   * in the journal for the next start (what a crash leaves).
   */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    this.#bursts.stopTimers();
    if (this.bot.isRunning()) await this.bot.stop();
    await this.#running;
    await this.#bursts.settle();
    if (options.flush ?? true) await this.#bursts.saveAll();
  }

  userIdOf(telegramId: number): string {
    return this.#options.users?.get(telegramId) ?? `${this.#options.userPrefix}${telegramId}`;
  }

  #routes(): void {
    const bot = this.bot;
    bot.catch((error) => {
      this.#options.logger.error(
        { err: error.error instanceof Error ? error.error.message : String(error.error) },
        'telegram update failed',
      );
    });

    // Allowed users only; everyone else is refused before any handler can store anything.
    bot.use(async (ctx, next) => {
      const from = ctx.from?.id;
      if (from !== undefined && this.#allowed.has(from)) return next();
      if (ctx.chat?.type === 'private') await ctx.reply(REFUSAL);
    });

    bot.command(['start', 'help'], (ctx) => ctx.reply(HELP, { parse_mode: 'HTML' }));
    bot.command('note', (ctx) => this.#setMode(ctx, 'note'));
    bot.command('agent', (ctx) => this.#setMode(ctx, 'agent'));
    bot.command('ask', async (ctx) => {
      const question = ctx.match.trim();
      if (question === '') return this.#setMode(ctx, 'ask');
      await this.#conversations.answer(ctx, question);
    });
    bot.use(memoryCommands(this.#handlers));
    bot.command('status', (ctx) =>
      this.#guard(ctx, async () => {
        const status = await this.#options.client.status(this.#user(ctx));
        await ctx.reply(statusText(status, this.#journal.mode(ctx.chat.id), Boolean(this.#options.llm)), {
          parse_mode: 'HTML',
        });
      }),
    );
    bot.command('settings', (ctx) =>
      ctx.reply(
        [
          `<b>Mode</b>: ${this.#journal.mode(ctx.chat.id)} (change with /note, /ask, /agent)`,
          `<b>Burst window</b>: messages within ${this.#options.burstMs / 1000} s of each other become one note`,
          `<b>Your Engram user</b>: <code>${escapeHtml(this.#user(ctx))}</code>`,
        ].join('\n'),
        { parse_mode: 'HTML' },
      ),
    );
    bot.command('resetcontext', async (ctx) => {
      this.#conversations.reset(ctx.chat.id);
      await ctx.reply('The agent conversation starts afresh.');
    });

    bot.on('message:text', (ctx) => this.#onContent(ctx, ctx.msg.text));
    bot.on('message:caption', (ctx) => this.#onContent(ctx, ctx.msg.caption ?? ''));
    bot.on('message:document', (ctx) => this.#onDocument(ctx));
  }

  async #setMode(ctx: ChatContext, mode: Mode): Promise<void> {
    await this.#journal.setMode(ctx.chat.id, mode);
    const what = {
      note: 'Note mode: what you send (or forward) is saved as notes.',
      ask: 'Ask mode: send a question and I answer from your notes and memories.',
      agent: this.#options.llm
        ? 'Agent mode: talk to the assistant; it looks things up in your memory and notes, and remembers what you tell it. /resetcontext starts afresh.'
        : 'Agent mode needs an LLM, and none is configured on this server. Your messages will get the best matching notes instead; /note switches back.',
    }[mode];
    await ctx.reply(what);
  }

  async #onContent(ctx: ChatContext & { msg: Message }, text: string): Promise<void> {
    if (text.startsWith('/')) return void (await ctx.reply('Unknown command. /help lists what I can do.'));
    const mode = this.#journal.mode(ctx.chat.id);
    if (mode === 'agent' && this.#options.llm) return this.#conversations.agent(ctx, text, this.#options.llm);
    if (mode !== 'note') return this.#conversations.answer(ctx, text);
    await this.#bursts.add(ctx.chat.id, this.#user(ctx), {
      messageId: ctx.msg.message_id,
      date: ctx.msg.date,
      text,
      forwardedFrom: forwardedFrom(ctx.msg),
    });
  }

  /** A text document (markdown, plain text) becomes a note of its own. */
  async #onDocument(ctx: ChatContext & { msg: Message }): Promise<void> {
    const document = ctx.msg.document;
    if (!document) return;
    const textual = /^text\//.test(document.mime_type ?? '') || /\.(md|markdown|txt)$/i.test(document.file_name ?? '');
    if (!textual || (document.file_size ?? 0) > 1_000_000) {
      return void (await ctx.reply('I can save text documents (.md, .txt) up to 1 MB as notes.'));
    }
    await this.#guard(ctx, async () => {
      const file = await ctx.getFile();
      const url = `${this.#options.apiRoot}/file/bot${this.#options.token}/${file.file_path}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new EngramError('unavailable', `could not download the document (${response.status})`);
      const text = await response.text();
      const name = (document.file_name ?? 'document').replace(/\.(md|markdown|txt)$/i, '');
      const saved = await this.#options.client.saveNote(this.#user(ctx), {
        title: /^#\s/m.test(text) ? undefined : name,
        body: text,
        sourceId: `tg:${ctx.chat.id}:${ctx.msg.message_id}`,
        createdAt: new Date(ctx.msg.date * 1000).toISOString(),
      });
      await ctx.reply(savedText(saved), { parse_mode: 'HTML' });
    });
  }

  async #guard(ctx: Context, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.#options.logger.warn({ err: (error as Error).message }, 'telegram command failed');
      await ctx.reply(`⚠️ ${errorText(error)}`).catch(() => undefined);
    }
  }

  #user(ctx: Context): string {
    return this.userIdOf(ctx.from?.id ?? 0);
  }
}
