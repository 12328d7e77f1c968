/**
 * Note mode's bursts: every message goes into its chat's current burst, and a burst becomes one
 * note `burstMs` after its last message (a forwarded thread arrives as several messages at once).
 * Bursts are journaled (journal.ts) and notes keyed by their first message, so a restart neither
 * loses nor duplicates a note.
 */
import type { Api } from 'grammy';
import type { EngramClient } from '../client/engram-client.js';
import type { Logger } from '../logger.js';
import { errorText, noteFromMessages, savedText } from './format.js';
import type { Journal, PendingMessage } from './journal.js';

export interface BurstOptions {
  journal: Journal;
  client: EngramClient;
  /** Where the chat is told a note is being saved, and then that it was. */
  api: Api;
  logger: Logger;
  burstMs: number;
}

export class Bursts {
  readonly #options: BurstOptions;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Bursts being saved, so `settle` can wait for them. */
  readonly #saving = new Set<Promise<void>>();

  constructor(options: BurstOptions) {
    this.#options = options;
  }

  /** Journals a message of `userId` into its chat's burst and (re)starts the burst's timer. */
  async add(chatId: number, userId: string, message: PendingMessage): Promise<void> {
    await this.#options.journal.addPending(chatId, userId, message);
    clearTimeout(this.#timers.get(chatId));
    this.#timers.set(
      chatId,
      setTimeout(() => {
        this.#timers.delete(chatId);
        const saving = this.#save(chatId).finally(() => this.#saving.delete(saving));
        this.#saving.add(saving);
      }, this.#options.burstMs),
    );
  }

  /** Saves every journaled burst now (at start, and at a graceful stop). */
  async saveAll(): Promise<void> {
    for (const chatId of Object.keys(this.#options.journal.state.pending)) await this.#save(Number(chatId));
  }

  /** Stops the timers: bursts not yet due stay journaled. */
  stopTimers(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Waits for the bursts being saved. */
  async settle(): Promise<void> {
    await Promise.all(this.#saving);
  }

  /** Saves a chat's journaled burst as one note and tells the chat. */
  async #save(chatId: number): Promise<void> {
    const { journal, client, api, logger } = this.#options;
    const pending = journal.takePending(chatId);
    if (!pending || pending.messages.length === 0) return;
    const messages = [...pending.messages].sort((a, b) => a.messageId - b.messageId);
    const first = messages[0] as PendingMessage;
    const { title, body, tags, category } = noteFromMessages(messages);
    try {
      const progress = await api.sendMessage(
        chatId,
        `⏳ Saving ${messages.length > 1 ? `${messages.length} messages as a note` : 'note'}…`,
      );
      const saved = await client.saveNote(pending.userId, {
        title,
        body,
        tags,
        category,
        sourceId: `tg:${chatId}:${first.messageId}`,
        createdAt: new Date(first.date * 1000).toISOString(),
      });
      await journal.clearPending(
        chatId,
        messages.map((message) => message.messageId),
      );
      await api.editMessageText(chatId, progress.message_id, savedText(saved), { parse_mode: 'HTML' });
    } catch (error) {
      // The burst stays journaled: the next start (or the next burst in this chat) saves it.
      logger.error({ err: (error as Error).message, chatId }, 'saving a telegram note failed');
      await api
        .sendMessage(chatId, `⚠️ Could not save the note yet (${errorText(error)}); it will be retried.`)
        .catch(() => undefined);
    }
  }
}
