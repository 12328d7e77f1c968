/**
 * The Telegram front end (grammY): a thin adapter over an `EngramClient`. Only allowed Telegram
 * users are served — anyone else gets a polite refusal and nothing is stored. Each Telegram user
 * is the Engram user `<userPrefix><telegram id>`, or the user its account is linked to (ENGRAM_TELEGRAM_USERS).
 *
 * In note mode (the default) every message goes into the chat's current burst; a burst becomes one
 * note `burstMs` after its last message (a forwarded thread arrives as several messages at once).
 * Bursts are journaled (journal.ts) and notes keyed by their first message, so a restart neither
 * loses nor duplicates a note.
 */
import { Bot, type CommandContext, type Context, InputFile } from 'grammy';
import type { Message } from 'grammy/types';
import { answerFromMemory, runAgent, type Source } from '../agent/agent.js';
import type { EngramClient } from '../client/engram-client.js';
import { EngramError, isEngramError, publicError } from '../core/errors.js';
import type { ChatMessage, ChatModel } from '../llm/index.js';
import type { Logger } from '../logger.js';
import {
  answerText,
  editPrompt,
  eraseText,
  escapeHtml,
  HELP,
  noteFromMessages,
  resultsText,
  savedText,
  statusText,
} from './format.js';
import { Journal, type Mode, type PendingMessage } from './journal.js';

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

/** Agent conversation turns kept per chat (user and assistant messages). */
const CONTEXT_TURNS = 20;

const COMMANDS = [
  { command: 'note', description: 'Save messages as notes (default mode)' },
  { command: 'ask', description: 'Answer from your notes and memories' },
  { command: 'agent', description: 'Assistant with memory (needs an LLM)' },
  { command: 'search', description: 'Find notes and memories' },
  { command: 'delete', description: 'Delete one memory by id (undoable)' },
  { command: 'restore', description: 'Bring a deleted memory back' },
  { command: 'forget', description: 'Erase one memory for good' },
  { command: 'editnote', description: 'Change the text of one of your notes' },
  { command: 'deletenote', description: 'Delete one of your notes' },
  { command: 'export', description: 'Download your memories (JSONL)' },
  { command: 'status', description: 'What is stored for you' },
  { command: 'settings', description: 'Current mode and settings' },
  { command: 'resetcontext', description: 'Start the agent conversation afresh' },
  { command: 'help', description: 'How to use this bot' },
];

const REFUSAL =
  'Sorry — this is a private memory bot and you are not on its list of users. Nothing you send here is stored.';

export class TelegramBot {
  readonly bot: Bot;
  readonly #options: TelegramBotOptions;
  readonly #journal: Journal;
  readonly #allowed: Set<number>;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Agent mode: each chat's conversation so far (in memory; /resetcontext clears it). */
  readonly #conversations = new Map<number, ChatMessage[]>();
  /** Bursts being saved, so stop() can wait for them. */
  readonly #saving = new Set<Promise<void>>();
  #running: Promise<void> | null = null;

  constructor(options: TelegramBotOptions) {
    this.#options = options;
    this.#journal = new Journal(options.stateFile);
    this.#allowed = new Set(options.allowedIds);
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.#routes();
  }

  /** Loads the journal, saves bursts a previous run left, registers the commands, and starts long polling. */
  async start(): Promise<void> {
    await this.#journal.load();
    await this.#flushAll();
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
    await this.#flushAll();
    await this.bot.init();
    await this.bot.api.setMyCommands(COMMANDS);
  }

  /**
   * Stops polling. With `flush` (a graceful stop) pending bursts are saved now; without, they stay
   * in the journal for the next start (what a crash leaves).
   */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    if (this.bot.isRunning()) await this.bot.stop();
    await this.#running;
    await Promise.all(this.#saving);
    if (options.flush ?? true) await this.#flushAll();
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
      await this.#answer(ctx, question);
    });
    bot.command('search', async (ctx) => {
      const query = ctx.match.trim();
      if (query === '') return void (await ctx.reply('Usage: /search <words>'));
      await this.#guard(ctx, async () => {
        const found = await this.#options.client.search(this.#user(ctx), query, 8);
        await ctx.reply(resultsText(query, found, true), { parse_mode: 'HTML' });
      });
    });
    // One meaning per word, as in the CLI, REST and MCP: delete can be undone, restore undoes it,
    // forget erases for good. Notes are deleted whole (their file is in git), never one section.
    bot.command('delete', (ctx) =>
      this.#byId(ctx, 'delete', async (user, id) =>
        eraseText(await this.#options.client.delete(user, id), id, {
          done: `🗑 Deleted <code>${escapeHtml(id)}</code>. /restore ${escapeHtml(id)} brings it back.`,
        }),
      ),
    );
    bot.command('restore', (ctx) =>
      this.#byId(ctx, 'restore', async (user, id) =>
        (await this.#options.client.restore(user, id))
          ? `♻️ Restored <code>${escapeHtml(id)}</code>.`
          : 'No deleted memory of yours has that id.',
      ),
    );
    bot.command('forget', (ctx) =>
      this.#byId(ctx, 'forget', async (user, id) =>
        eraseText(await this.#options.client.forget(user, id), id, {
          done: `🧹 Forgotten for good: <code>${escapeHtml(id)}</code> and its history are erased.`,
        }),
      ),
    );
    bot.command('deletenote', async (ctx) => {
      const path = ctx.match.trim();
      if (path === '') return void (await ctx.reply('Usage: /deletenote <note path> (paths are shown by /search)'));
      await this.#guard(ctx, async () => {
        const deleted = await this.#options.client.deleteNote(this.#user(ctx), path);
        await ctx.reply(
          deleted
            ? `🗑 Deleted the note <code>${escapeHtml(path)}</code>: its file is removed from the knowledge base (a git commit) and it is no longer found.`
            : 'You have no note at that path.',
          { parse_mode: 'HTML' },
        );
      });
    });
    bot.command('editnote', async (ctx) => {
      const [path = '', ...lines] = ctx.match.split('\n');
      const body = lines.join('\n').trim();
      if (path.trim() === '') {
        return void (await ctx.reply(
          'Usage: /editnote <note path>, then the note’s new text on the next lines (paths are shown by /search)',
        ));
      }
      await this.#guard(ctx, async () => {
        const user = this.#user(ctx);
        if (body === '') {
          // No new text yet: show the current one to copy and change.
          const note = await this.#options.client.readNote(user, path.trim());
          await ctx.reply(editPrompt(note.path, note.body), { parse_mode: 'HTML' });
          return;
        }
        const edited = await this.#options.client.editNote(user, path.trim(), body);
        await ctx.reply(
          edited
            ? `✏️ Edited <code>${escapeHtml(path.trim())}</code> (same path; committed and searchable in its new words).`
            : 'You have no note at that path.',
          { parse_mode: 'HTML' },
        );
      });
    });
    bot.command('export', (ctx) =>
      this.#guard(ctx, async () => {
        await ctx.replyWithChatAction('upload_document');
        const jsonl = await this.#options.client.exportJsonl(this.#user(ctx));
        const lines = jsonl === '' ? 0 : jsonl.trimEnd().split('\n').length;
        await ctx.replyWithDocument(new InputFile(Buffer.from(jsonl, 'utf8'), 'engram-export.jsonl'), {
          caption: `Your memories: ${lines} lines of JSONL (memories with their history).`,
        });
      }),
    );
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
      this.#conversations.delete(ctx.chat.id);
      await ctx.reply('The agent conversation starts afresh.');
    });

    bot.on('message:text', (ctx) => this.#onContent(ctx, ctx.msg.text));
    bot.on('message:caption', (ctx) => this.#onContent(ctx, ctx.msg.caption ?? ''));
    bot.on('message:document', (ctx) => this.#onDocument(ctx));
  }

  /** A command taking one memory id: usage when it is missing, the reply from `work` otherwise. */
  async #byId(
    ctx: CommandContext<Context>,
    command: string,
    work: (user: string, id: string) => Promise<string>,
  ): Promise<void> {
    const id = ctx.match.trim();
    if (id === '') return void (await ctx.reply(`Usage: /${command} <memory id> (ids are shown by /search)`));
    await this.#guard(ctx, async () => {
      await ctx.reply(await work(this.#user(ctx), id), { parse_mode: 'HTML' });
    });
  }

  async #setMode(ctx: Context & { chat: { id: number } }, mode: Mode): Promise<void> {
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

  async #onContent(ctx: Context & { chat: { id: number }; msg: Message }, text: string): Promise<void> {
    if (text.startsWith('/')) return void (await ctx.reply('Unknown command. /help lists what I can do.'));
    const mode = this.#journal.mode(ctx.chat.id);
    if (mode === 'agent' && this.#options.llm) return this.#agent(ctx, text, this.#options.llm);
    if (mode !== 'note') return this.#answer(ctx, text);
    await this.#buffer(ctx, {
      messageId: ctx.msg.message_id,
      date: ctx.msg.date,
      text,
      forwardedFrom: forwardedFrom(ctx.msg),
    });
  }

  /** A text document (markdown, plain text) becomes a note of its own. */
  async #onDocument(ctx: Context & { chat: { id: number }; msg: Message }): Promise<void> {
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

  async #buffer(ctx: Context & { chat: { id: number } }, message: PendingMessage): Promise<void> {
    const chatId = ctx.chat.id;
    await this.#journal.addPending(chatId, this.#user(ctx), message);
    clearTimeout(this.#timers.get(chatId));
    this.#timers.set(
      chatId,
      setTimeout(() => {
        this.#timers.delete(chatId);
        const saving = this.#flush(chatId).finally(() => this.#saving.delete(saving));
        this.#saving.add(saving);
      }, this.#options.burstMs),
    );
  }

  /** Saves a chat's journaled burst as one note and tells the chat. */
  async #flush(chatId: number): Promise<void> {
    const pending = this.#journal.takePending(chatId);
    if (!pending || pending.messages.length === 0) return;
    const messages = [...pending.messages].sort((a, b) => a.messageId - b.messageId);
    const first = messages[0] as PendingMessage;
    const { title, body, tags, category } = noteFromMessages(messages);
    try {
      const progress = await this.bot.api.sendMessage(
        chatId,
        `⏳ Saving ${messages.length > 1 ? `${messages.length} messages as a note` : 'note'}…`,
      );
      const saved = await this.#options.client.saveNote(pending.userId, {
        title,
        body,
        tags,
        category,
        sourceId: `tg:${chatId}:${first.messageId}`,
        createdAt: new Date(first.date * 1000).toISOString(),
      });
      await this.#journal.clearPending(
        chatId,
        messages.map((message) => message.messageId),
      );
      await this.bot.api.editMessageText(chatId, progress.message_id, savedText(saved), { parse_mode: 'HTML' });
    } catch (error) {
      // The burst stays journaled: the next start (or the next burst in this chat) saves it.
      this.#options.logger.error({ err: (error as Error).message, chatId }, 'saving a telegram note failed');
      await this.bot.api
        .sendMessage(chatId, `⚠️ Could not save the note yet (${errorText(error)}); it will be retried.`)
        .catch(() => undefined);
    }
  }

  async #flushAll(): Promise<void> {
    for (const chatId of Object.keys(this.#journal.state.pending)) await this.#flush(Number(chatId));
  }

  /**
   * /ask, and plain messages in ask mode (or agent mode without an LLM): with an LLM, an answer
   * grounded in the best matching memories and notes, citing them; without, those matches.
   */
  async #answer(ctx: Context & { chat: { id: number } }, question: string): Promise<void> {
    await this.#guard(ctx, async () => {
      await ctx.replyWithChatAction('typing');
      const { llm, client } = this.#options;
      if (llm) {
        const { answer, sources } = await answerFromMemory(llm, client, this.#user(ctx), question);
        await ctx.reply(answerText(answer, sources), { parse_mode: 'HTML' });
        return;
      }
      const found = await client.search(this.#user(ctx), question, 6);
      await ctx.reply(resultsText(question, found, false), { parse_mode: 'HTML' });
    });
  }

  /** Agent mode: one turn of the memory agent, with this chat's conversation so far. */
  async #agent(ctx: Context & { chat: { id: number } }, text: string, llm: ChatModel): Promise<void> {
    await this.#guard(ctx, async () => {
      await ctx.replyWithChatAction('typing');
      const history = [...(this.#conversations.get(ctx.chat.id) ?? []), { role: 'user' as const, content: text }];
      let reply = '';
      let sources: Source[] = [];
      const options = { model: llm, client: this.#options.client, maxSteps: this.#options.maxSteps ?? 6 };
      for await (const event of runAgent(options, this.#user(ctx), history)) {
        if (event.type === 'done') {
          reply = event.text;
          sources = event.sources;
        }
      }
      const kept = [...history, { role: 'assistant' as const, content: reply }].slice(-CONTEXT_TURNS);
      this.#conversations.set(ctx.chat.id, kept);
      await ctx.reply(
        answerText(
          reply || '…',
          sources.filter((source) => source.kind === 'note'),
        ),
        { parse_mode: 'HTML' },
      );
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

function forwardedFrom(message: Message): string | null {
  const origin = message.forward_origin;
  if (!origin) return null;
  switch (origin.type) {
    case 'user':
      return [origin.sender_user.first_name, origin.sender_user.last_name].filter(Boolean).join(' ');
    case 'hidden_user':
      return origin.sender_user_name;
    case 'chat':
      return origin.sender_chat.title ?? 'a chat';
    case 'channel':
      return origin.chat.title ?? 'a channel';
    default:
      return 'someone';
  }
}

function errorText(error: unknown): string {
  return isEngramError(error) ? publicError(error).message : 'something went wrong; the server log has the details';
}
