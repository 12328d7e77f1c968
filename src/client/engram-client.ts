/**
 * What the bot and the agent need from Engram, as one small interface: the in-process implementation calls the
 * MemoryService and KnowledgeBase directly (`engram serve --bot`); the HTTP one calls a remote
 * Engram server's REST API with an admin key acting for each user (`engram bot` as its own
 * service). The bot and the agent never know which they have.
 */
import { EngramError, errorFromResponse } from '../core/errors.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import { exportUser } from '../core/transfer.js';
import type { Memory } from '../core/types.js';
import type { KbHit, KnowledgeBase, NewNote, Note } from '../kb/index.js';

export interface FoundMemory {
  id: string;
  content: string;
  category: string;
  source: string;
  score: number;
  createdAt: string;
  /** The note it indexes, for knowledge-base memories. */
  kbPath: string | null;
}

export interface SavedNote {
  path: string;
  title: string;
  created: boolean;
  memoryIds: string[];
}

/** What `delete` or `forget` did: done, nothing of this user's with that id, or a note's section (left alone). */
export type EraseOutcome = { done: true } | { done: false; notePath: string | null };

/**
 * Runs a delete or forget (`erase` answers false when there is nothing of this user's with that id)
 * and says what it did. The service refuses a note's section with `conflict` naming the note
 * (`details.notePath`): the outcome passes the name on, for the caller to offer the note instead.
 */
async function eraseOutcome(erase: () => Promise<boolean>): Promise<EraseOutcome> {
  try {
    return (await erase()) ? { done: true } : { done: false, notePath: null };
  } catch (error) {
    if (!(error instanceof EngramError)) throw error;
    if (error.code === 'not_found') return { done: false, notePath: null };
    const notePath = error.code === 'conflict' ? error.details?.notePath : undefined;
    if (typeof notePath === 'string') return { done: false, notePath };
    throw error;
  }
}

export interface UserStatus {
  memories: number;
  notes: number;
  categories: { name: string; count: number }[];
}

export interface EngramClient {
  /** Writes a note (committed, indexed as memories); the same `sourceId` twice gives the first note. */
  saveNote(userId: string, note: Omit<NewNote, 'source'>): Promise<SavedNote>;
  /** Hybrid memory search (notes' sections included): the relevant memories only, so possibly none. */
  search(userId: string, query: string, limit: number): Promise<FoundMemory[]>;
  /** Search limited to knowledge-base notes. */
  searchNotes(userId: string, query: string, limit: number): Promise<KbHit[]>;
  /** One of the user's notes in full. */
  readNote(userId: string, path: string): Promise<Note>;
  /** Stores one memory; returns its id (an existing one for identical content). */
  remember(userId: string, content: string, fields?: { category?: string; tags?: string[] }): Promise<string>;
  /**
   * Deletes one memory, undoably (`restore` brings it back). A section of a note is not deleted
   * on its own (the note's file would bring it back): the outcome names the note instead.
   */
  delete(userId: string, memoryId: string): Promise<EraseOutcome>;
  /** Brings a deleted memory back; false when there is nothing of this user's to restore. */
  restore(userId: string, memoryId: string): Promise<boolean>;
  /** Erases one memory and its history for good; a note's section names its note, as `delete`. */
  forget(userId: string, memoryId: string): Promise<EraseOutcome>;
  /** Deletes one of the user's notes: the file (committed) and its memories; false when there is none. */
  deleteNote(userId: string, path: string): Promise<boolean>;
  /** Replaces a note's text in place (same path; committed, indexed afresh); false when there is none. */
  editNote(userId: string, path: string, body: string): Promise<boolean>;
  /** The user's memories as JSONL (the format of `engram export`). */
  exportJsonl(userId: string): Promise<string>;
  status(userId: string): Promise<UserStatus>;
}

const BOT_ACTOR: Actor = { name: 'telegram-bot', source: 'telegram' };

type SearchedMemory = Pick<Memory, 'id' | 'content' | 'category' | 'createdAt'> & {
  source: string;
  metadata: Record<string, unknown>;
};

/** `fallback` when the work finds nothing of this user's (not_found); other errors as they are. */
async function notFoundAs<T>(fallback: T, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EngramError && error.code === 'not_found') return fallback;
    throw error;
  }
}

function found(memory: SearchedMemory, score: number): FoundMemory {
  return {
    id: memory.id,
    content: memory.content,
    category: memory.category,
    source: memory.source,
    score,
    createdAt: memory.createdAt,
    kbPath: typeof memory.metadata.kbPath === 'string' ? memory.metadata.kbPath : null,
  };
}

/** In the server's process: straight calls. */
export class LocalClient implements EngramClient {
  readonly #service: MemoryService;
  readonly #kb: KnowledgeBase | null;

  constructor(service: MemoryService, kb: KnowledgeBase | null) {
    this.#service = service;
    this.#kb = kb;
  }

  #requireKb(): KnowledgeBase {
    if (!this.#kb) throw new EngramError('unavailable', 'the knowledge base is not available (see the server log)');
    return this.#kb;
  }

  async saveNote(userId: string, note: Omit<NewNote, 'source'>): Promise<SavedNote> {
    const saved = await this.#requireKb().create(userId, { ...note, source: 'telegram' });
    return { path: saved.note.path, title: saved.note.title, created: saved.created, memoryIds: saved.memoryIds };
  }

  async search(userId: string, query: string, limit: number): Promise<FoundMemory[]> {
    const { results } = await this.#service.search(userId, { query, limit, relevantOnly: true });
    return results.map(({ memory, score }) => found(memory, score));
  }

  searchNotes(userId: string, query: string, limit: number): Promise<KbHit[]> {
    return this.#kb ? this.#kb.search(userId, query, limit) : Promise.resolve([]);
  }

  readNote(userId: string, path: string): Promise<Note> {
    return this.#requireKb().read(userId, path);
  }

  async remember(
    userId: string,
    content: string,
    fields: { category?: string; tags?: string[] } = {},
  ): Promise<string> {
    return (await this.#service.add(userId, { content, ...fields }, BOT_ACTOR)).memory.id;
  }

  delete(userId: string, memoryId: string): Promise<EraseOutcome> {
    return eraseOutcome(async () => {
      await this.#service.delete(userId, memoryId, BOT_ACTOR);
      return true;
    });
  }

  forget(userId: string, memoryId: string): Promise<EraseOutcome> {
    return eraseOutcome(async () => {
      await this.#service.forget(userId, memoryId);
      return true;
    });
  }

  restore(userId: string, memoryId: string): Promise<boolean> {
    return notFoundAs(false, async () => {
      await this.#service.restore(userId, memoryId, BOT_ACTOR);
      return true;
    });
  }

  deleteNote(userId: string, path: string): Promise<boolean> {
    return notFoundAs(false, async () => {
      await this.#requireKb().delete(userId, path);
      return true;
    });
  }

  editNote(userId: string, path: string, body: string): Promise<boolean> {
    return notFoundAs(false, async () => {
      await this.#requireKb().update(userId, path, { body });
      return true;
    });
  }

  async exportJsonl(userId: string): Promise<string> {
    let out = '';
    for await (const line of exportUser(this.#service, userId)) out += line;
    return out;
  }

  async status(userId: string): Promise<UserStatus> {
    const categories = await this.#service.categories(userId);
    return {
      memories: categories.reduce((sum, entry) => sum + entry.count, 0),
      notes: this.#kb?.list(userId).length ?? 0,
      categories: categories.map((entry) => ({ name: entry.category, count: entry.count })),
    };
  }
}

/** Another process: the REST API of an Engram server, with an admin key acting for each user. */
export class HttpClient implements EngramClient {
  readonly #base: URL;
  readonly #apiKey: string;
  readonly #timeoutMs: number;

  constructor(serverUrl: string, apiKey: string, timeoutMs = 30_000) {
    this.#base = new URL(serverUrl.endsWith('/') ? serverUrl : `${serverUrl}/`);
    this.#apiKey = apiKey;
    this.#timeoutMs = timeoutMs;
  }

  async #call<T>(userId: string, method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.#base), {
        method,
        headers: {
          authorization: `Bearer ${this.#apiKey}`,
          'x-user-id': userId,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new EngramError('unavailable', `the Engram server did not answer: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const text = await response.text();
    if (!response.ok && response.status !== 404)
      throw errorFromResponse(response.status, text, response.headers.get('retry-after'));
    return { status: response.status, data: (path.startsWith('v1/export') ? text : text && JSON.parse(text)) as T };
  }

  async saveNote(userId: string, note: Omit<NewNote, 'source'>): Promise<SavedNote> {
    const { status, data } = await this.#call<{ note: { path: string; title: string }; memoryIds: string[] }>(
      userId,
      'POST',
      'v1/kb/notes',
      Object.fromEntries(Object.entries({ ...note, source: 'telegram' }).filter(([, value]) => value !== undefined)),
    );
    return { path: data.note.path, title: data.note.title, created: status === 201, memoryIds: data.memoryIds };
  }

  async search(userId: string, query: string, limit: number): Promise<FoundMemory[]> {
    const { data } = await this.#call<{
      results: {
        memory: SearchedMemory;
        score: number;
      }[];
    }>(userId, 'POST', 'v1/search', { query, limit, relevantOnly: true });
    return data.results.map(({ memory, score }) => found(memory, score));
  }

  async searchNotes(userId: string, query: string, limit: number): Promise<KbHit[]> {
    const { status, data } = await this.#call<{ results: KbHit[] }>(userId, 'POST', 'v1/kb/search', { query, limit });
    return status === 404 ? [] : data.results;
  }

  async readNote(userId: string, path: string): Promise<Note> {
    const { status, data } = await this.#call<Note>(userId, 'GET', `v1/kb/note?path=${encodeURIComponent(path)}`);
    if (status === 404) throw new EngramError('not_found', `note ${JSON.stringify(path)} was not found`);
    return data;
  }

  async remember(
    userId: string,
    content: string,
    fields: { category?: string; tags?: string[] } = {},
  ): Promise<string> {
    const { data } = await this.#call<{ memory: { id: string } }>(userId, 'POST', 'v1/memories', {
      content,
      ...fields,
    });
    return data.memory.id;
  }

  delete(userId: string, memoryId: string): Promise<EraseOutcome> {
    const path = `v1/memories/${encodeURIComponent(memoryId)}`;
    return eraseOutcome(async () => (await this.#call(userId, 'DELETE', path)).status !== 404);
  }

  forget(userId: string, memoryId: string): Promise<EraseOutcome> {
    const path = `v1/memories/${encodeURIComponent(memoryId)}/forget`;
    return eraseOutcome(async () => (await this.#call(userId, 'POST', path)).status !== 404);
  }

  async restore(userId: string, memoryId: string): Promise<boolean> {
    const { status } = await this.#call(userId, 'POST', `v1/memories/${encodeURIComponent(memoryId)}/restore`);
    return status !== 404;
  }

  async deleteNote(userId: string, path: string): Promise<boolean> {
    const { status } = await this.#call(userId, 'DELETE', `v1/kb/note?path=${encodeURIComponent(path)}`);
    return status !== 404;
  }

  async editNote(userId: string, path: string, body: string): Promise<boolean> {
    const { status } = await this.#call(userId, 'PATCH', `v1/kb/note?path=${encodeURIComponent(path)}`, { body });
    return status !== 404;
  }

  async exportJsonl(userId: string): Promise<string> {
    return (await this.#call<string>(userId, 'GET', 'v1/export')).data;
  }

  async status(userId: string): Promise<UserStatus> {
    const [categories, notes] = await Promise.all([
      this.#call<{ categories: { category: string; count: number }[] }>(userId, 'GET', 'v1/categories'),
      this.#call<{ items: unknown[] }>(userId, 'GET', 'v1/kb/notes'),
    ]);
    const list = categories.data.categories;
    return {
      memories: list.reduce((sum, entry) => sum + entry.count, 0),
      notes: notes.status === 404 ? 0 : notes.data.items.length,
      categories: list.map((entry) => ({ name: entry.category, count: entry.count })),
    };
  }
}
