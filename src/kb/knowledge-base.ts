/**
 * The knowledge base: a git repository of markdown notes (`topics/<category>/<date>-<slug>.md`),
 * each indexed as memories of its owner (one per section, source `kb`), so memory search finds
 * notes and a note's sections lend each other context (they share a `sessionId`). Notes written
 * here are committed one per change; notes edited on disk are re-indexed when the file changes.
 * The index is note-index.ts, the file tree note-files.ts, git git.ts; this class puts them
 * together under one lock per note.
 *
 * Isolation: a note belongs to the Engram user named by its `owner` frontmatter (notes without
 * one belong to `defaultOwner`); every read, list and search is scoped to the caller's notes, and a
 * note of another user is "not found", exactly like a missing one.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { EngramError, notFound } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { MemoryService } from '../core/memory-service.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { type GitOptions, GitRepo, type PushState } from './git.js';
import { checkNotePath, type Note, type NoteMeta, parseNote, renderNote } from './note.js';
import { noteFiles, PathReservations, TOPICS, watchNotes } from './note-files.js';
import { NoteIndex, type NoteSummary } from './note-index.js';

export type { NoteSummary } from './note-index.js';

export interface KnowledgeBaseOptions extends Omit<GitOptions, 'dir'> {
  dir: string;
  /** Owner of notes whose frontmatter names none (notes written by hand). */
  defaultOwner: string;
  /** Re-index notes changed on disk by other programs. */
  watch: boolean;
  /** Reports notes that could not be indexed (bad frontmatter, unreadable, over a limit). */
  onProblem?: (path: string, error: unknown) => void;
  /** Most sections one note is indexed as (ENGRAM_KB_MAX_SECTIONS); default 1,000. */
  maxSections?: number;
  /** Most bytes one note's sections may hold in all (ENGRAM_KB_MAX_NOTE_BYTES); default 2 MiB. */
  maxNoteBytes?: number;
}

export interface NewNote {
  body: string;
  title?: string | undefined;
  category?: string | undefined;
  tags?: string[] | undefined;
  /** What made it: telegram, api, mcp, cli. */
  source: string;
  /** Origin identifier: a second note with the same one is not created (the first is returned). */
  sourceId?: string | undefined;
  createdAt?: string | undefined;
}

export interface CreatedNote {
  note: Note;
  /** False when a note with the same sourceId existed: nothing was written. */
  created: boolean;
  commit: string | null;
  /** Ids of the memories that index it. */
  memoryIds: string[];
}

/** What an edit changes; a field left out keeps its value. The path, owner and creation time never change. */
export interface NoteChange {
  body?: string | undefined;
  /** Empty: the body's first line, as for a new note. */
  title?: string | undefined;
  category?: string | undefined;
  tags?: string[] | undefined;
}

export interface UpdatedNote {
  note: Note;
  /** Null when the edit changed nothing. */
  commit: string | null;
  /** Ids of the memories that index it now (an edited note is indexed afresh). */
  memoryIds: string[];
}

export interface KbHit {
  path: string;
  title: string;
  /** `Title › Section` of the matching part. */
  heading: string;
  /** The matching part's text. */
  text: string;
  score: number;
  memoryId: string;
}

export class KnowledgeBase {
  readonly #service: MemoryService;
  readonly #options: KnowledgeBaseOptions;
  readonly #git: GitRepo;
  readonly #index: NoteIndex;
  readonly #paths: PathReservations;
  /** One change at a time per path (and per new note's source). */
  readonly #locks = new KeyedLock();
  #watcher: FSWatcher | null = null;

  constructor(service: MemoryService, options: KnowledgeBaseOptions) {
    this.#service = service;
    this.#options = options;
    this.#git = new GitRepo({ ...options, dir: options.dir });
    this.#index = new NoteIndex(service, options);
    this.#paths = new PathReservations(options.dir);
  }

  get dir(): string {
    return this.#options.dir;
  }

  get push(): PushState {
    return this.#git.pushState;
  }

  /** Opens (or creates) the repository, indexes every note, and starts watching for edits. */
  async init(): Promise<void> {
    await this.#git.init();
    await mkdir(join(this.#options.dir, TOPICS), { recursive: true, mode: 0o700 });
    for (const path of await noteFiles(this.#options.dir)) {
      await this.#reindex(path).catch((error: unknown) => this.#options.onProblem?.(path, error));
    }
    if (this.#options.watch) {
      this.#watcher = await watchNotes(this.#options.dir, (path) => {
        this.#reindex(path).catch((error: unknown) => this.#options.onProblem?.(path, error));
      });
    }
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
    this.#watcher = null;
    await this.#git.close();
  }

  /** Notes of `userId`, newest first, optionally of one category. */
  list(userId: string, options: { category?: string | undefined } = {}): NoteSummary[] {
    return this.#index.list(userId, options);
  }

  /** One of `userId`'s notes; another user's is not found. */
  async read(userId: string, path: string): Promise<Note> {
    const checked = checkNotePath(path);
    const indexed = this.#index.get(checked);
    if (!indexed || indexed.owner !== userId) throw notFound('note', checked);
    const text = await readFile(join(this.#options.dir, checked), 'utf8');
    return parseNote(checked, text, this.#options.defaultOwner, indexed.createdAt);
  }

  /** Memory search over `userId`'s notes only. */
  async search(userId: string, query: string, limit = 5): Promise<KbHit[]> {
    const { results } = await this.#service.search(userId, { query, limit, filter: { source: 'kb' } });
    return results.flatMap(({ memory, score }) => {
      const path = memory.metadata.kbPath;
      const note = typeof path === 'string' ? this.#index.get(path) : undefined;
      if (!note || note.owner !== userId) return [];
      const [heading = note.title, ...rest] = memory.content.split('\n');
      return [{ path: note.path, title: note.title, heading, text: rest.join('\n'), score, memoryId: memory.id }];
    });
  }

  /** Writes, commits and indexes a new note; with a `sourceId` seen before, returns that note instead. */
  async create(userId: string, input: NewNote): Promise<CreatedNote> {
    const body = input.body.trim();
    if (body === '') throw new EngramError('invalid_request', 'a note needs some text');
    const sourceKey = input.sourceId ? `${userId}\0${input.sourceId}` : null;
    return this.#locks.run(sourceKey ?? `new\0${userId}`, async () => {
      const existing = input.sourceId ? this.#index.pathOfSource(userId, input.sourceId) : undefined;
      if (existing) {
        const note = await this.read(userId, existing);
        return { note, created: false, commit: null, memoryIds: await this.#index.memoryIds(userId, existing) };
      }
      const meta: NoteMeta = {
        title: (input.title?.trim() || firstLine(body)).slice(0, 120),
        category: input.category?.trim() || 'general',
        tags: [...new Set(input.tags ?? [])],
        createdAt: input.createdAt ?? this.#service.now(),
        source: input.source,
        owner: userId,
        sourceId: input.sourceId ?? null,
      };
      // Everything is checked before anything is written: a refused note leaves no file, commit or memory.
      // The text carries its title and category, so the parse does not depend on the path it gets.
      const text = renderNote(meta, body);
      const checked = parseNote('topics/general/note.md', text, this.#options.defaultOwner, meta.createdAt);
      this.#service.validateAdd(userId, this.#index.inputs(checked, 'topics/general/note.md', ''));
      const path = await this.#paths.reserve(meta, (candidate) => this.#index.has(candidate));
      const file = join(this.#options.dir, path);
      try {
        await writeFileAtomic(file, text);
        let commit: string | null;
        try {
          await this.#reindex(path, { strict: true });
          commit = await this.#git.commit([path], `note: ${meta.title} (${meta.category})`);
        } catch (error) {
          // Indexing or committing failed: take the note back out of the file tree, the index and git's staging area.
          await rm(file, { force: true });
          await this.#index.deindex(path, { forget: true }).catch(() => undefined);
          await this.#git.unstageNew([path]).catch(() => undefined);
          throw error;
        }
        return {
          note: { ...checked, path },
          created: true,
          commit,
          memoryIds: await this.#index.memoryIds(userId, path),
        };
      } finally {
        await this.#paths.release(path);
      }
    });
  }

  /**
   * Edits one of `userId`'s notes in place: the file keeps its path, the change is committed and
   * the note indexed afresh. Checked before anything is written, like a new note; an edit whose
   * indexing or commit fails puts the previous text (and its memories) back.
   */
  async update(userId: string, path: string, change: NoteChange): Promise<UpdatedNote> {
    const checked = checkNotePath(path);
    return this.#locks.run(checked, async () => {
      const indexed = this.#index.get(checked);
      if (!indexed || indexed.owner !== userId) throw notFound('note', checked);
      const file = join(this.#options.dir, checked);
      const before = await readFile(file, 'utf8');
      const current = parseNote(checked, before, this.#options.defaultOwner, indexed.createdAt);
      const body = (change.body ?? current.body).trim();
      if (body === '') throw new EngramError('invalid_request', 'a note needs some text');
      const { body: _body, path: _path, ...meta } = current;
      const title = change.title === undefined ? meta.title : change.title.trim() || firstLine(body);
      const next: NoteMeta = {
        ...meta,
        title: title.slice(0, 120),
        category: change.category?.trim() || meta.category,
        tags: change.tags ? [...new Set(change.tags)] : meta.tags,
      };
      const text = renderNote(next, body);
      const memoryIds = () => this.#index.memoryIds(userId, checked);
      if (text === before) return { note: current, commit: null, memoryIds: await memoryIds() };
      const note = parseNote(checked, text, this.#options.defaultOwner, indexed.createdAt);
      this.#service.validateAdd(userId, this.#index.inputs(note, checked, ''));
      await writeFileAtomic(file, text);
      let commit: string | null;
      try {
        await this.#index.reindex(checked, { strict: true });
        commit = await this.#git.commit([checked], `edit note: ${next.title} (${next.category})`);
      } catch (error) {
        // Back to the previous text, indexed afresh whatever the failed attempt left of its memories.
        await writeFileAtomic(file, before);
        await this.#git.unstage([checked]).catch(() => undefined);
        this.#index.markStale(indexed);
        await this.#index.reindex(checked).catch((cause: unknown) => this.#options.onProblem?.(checked, cause));
        throw error;
      }
      return { note, commit, memoryIds: await memoryIds() };
    });
  }

  /** Deletes one of `userId`'s notes: the file (committed) and the memories indexing it. */
  async delete(userId: string, path: string): Promise<void> {
    const checked = checkNotePath(path);
    await this.#locks.run(checked, async () => {
      const indexed = this.#index.get(checked);
      if (!indexed || indexed.owner !== userId) throw notFound('note', checked);
      await rm(join(this.#options.dir, checked), { force: true });
      await this.#git.commit([checked], `delete note: ${indexed.title}`);
      await this.#index.deindex(checked);
    });
  }

  /** Deletes every note of `userId` (a purge): one commit. Their memories go with the user's purge. */
  async purgeUser(userId: string): Promise<number> {
    const paths = this.list(userId).map((note) => note.path);
    for (const path of paths) {
      await rm(join(this.#options.dir, path), { force: true });
      this.#index.drop(path);
    }
    if (paths.length > 0) await this.#git.commit(paths, `purge notes of user ${userId}`);
    return paths.length;
  }

  /** Re-reads one file under its lock and brings its memories in line (note-index.ts). */
  async #reindex(path: string, options: { strict?: boolean } = {}): Promise<void> {
    await this.#locks.run(path, () => this.#index.reindex(path, options));
  }
}

function firstLine(text: string): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? 'note';
  return line.replace(/^#+\s*/, '').trim();
}
