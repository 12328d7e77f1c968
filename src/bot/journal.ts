/**
 * The bot's state on disk (`<dataDir>/bot/state.json`, written atomically): each chat's mode, and
 * the messages of bursts not yet saved as notes. A burst is journaled before the bot lets Telegram
 * forget its updates, so a restart (or a crash) between receiving messages and saving the note
 * loses nothing: the next start saves what the journal holds. Notes are keyed by their first
 * message, so saving a burst twice still makes one note.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic-write.js';

export const MODES = ['note', 'ask', 'agent'] as const;
export type Mode = (typeof MODES)[number];

const pendingMessageSchema = z.object({
  messageId: z.number(),
  /** Unix seconds, as Telegram sends it. */
  date: z.number(),
  text: z.string(),
  /** Who the message was forwarded from, if it was. */
  forwardedFrom: z.string().nullable(),
});
export type PendingMessage = z.infer<typeof pendingMessageSchema>;

const stateSchema = z.object({
  modes: z.record(z.string(), z.enum(MODES)).default({}),
  /** chat id → its burst's messages, oldest first, and the Engram user they belong to. */
  pending: z.record(z.string(), z.object({ userId: z.string(), messages: z.array(pendingMessageSchema) })).default({}),
});
export type BotState = z.infer<typeof stateSchema>;

export class Journal {
  readonly #file: string;
  #state: BotState = { modes: {}, pending: {} };
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
  }

  /** Reads the state file; a missing one is an empty state, a damaged one an error (nothing is overwritten). */
  async load(): Promise<BotState> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return this.#state;
    }
    const parsed = stateSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.#file} is damaged: ${parsed.error.message}`);
    this.#state = parsed.data;
    return this.#state;
  }

  get state(): Readonly<BotState> {
    return this.#state;
  }

  mode(chatId: number): Mode {
    return this.#state.modes[String(chatId)] ?? 'note';
  }

  setMode(chatId: number, mode: Mode): Promise<void> {
    this.#state.modes[String(chatId)] = mode;
    return this.#save();
  }

  addPending(chatId: number, userId: string, message: PendingMessage): Promise<void> {
    const entry = this.#state.pending[String(chatId)] ?? { userId, messages: [] };
    this.#state.pending[String(chatId)] = entry;
    if (!entry.messages.some((known) => known.messageId === message.messageId)) entry.messages.push(message);
    return this.#save();
  }

  takePending(chatId: number): { userId: string; messages: PendingMessage[] } | undefined {
    return this.#state.pending[String(chatId)];
  }

  clearPending(chatId: number, upTo: number[]): Promise<void> {
    const entry = this.#state.pending[String(chatId)];
    if (entry) {
      entry.messages = entry.messages.filter((message) => !upTo.includes(message.messageId));
      if (entry.messages.length === 0) delete this.#state.pending[String(chatId)];
    }
    return this.#save();
  }

  /** Writes are serialised; each writes the whole (small) state. */
  #save(): Promise<void> {
    const snapshot = JSON.stringify(this.#state);
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(this.#file), { recursive: true });
        await writeFileAtomic(this.#file, snapshot, 0o600);
      });
    return this.#writing;
  }
}
