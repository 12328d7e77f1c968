/**
 * The knowledge base: a git repository of markdown notes (`topics/<category>/<date>-<slug>.md`),
 * each indexed as memories of its owner (one per section, source `kb`), so memory search finds
 * notes and a note's sections lend each other context (they share a `sessionId`). Notes written
 * here are committed one per change; notes edited on disk are re-indexed when the file changes.
 *
 * Isolation: a note belongs to the Engram user named by its `owner` frontmatter (notes without
 * one belong to `defaultOwner`); every read, list and search is scoped to the caller's notes, and a
 * note of another user is "not found", exactly like a missing one.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { EngramError, notFound } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import type { AddMemoryInput } from '../core/schemas.js';
import type { Memory } from '../core/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { exists } from '../util/files.js';
import { chunkMarkdown } from './chunk.js';
import { type GitOptions, GitRepo, type PushState } from './git.js';
import { checkNotePath, type Note, type NoteMeta, notePath, parseNote, renderNote } from './note.js';

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

export interface NoteSummary extends NoteMeta {
  path: string;
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

interface Indexed extends NoteSummary {
  /** sha256 of the file text, so unchanged notes are not re-indexed. */
  hash: string;
}

const ACTOR: Actor = { name: 'kb', source: 'kb' };
const TOPICS = 'topics';

export class KnowledgeBase {
  readonly #service: MemoryService;
  readonly #options: KnowledgeBaseOptions;
  readonly #git: GitRepo;
  /** Every indexed note by path. */
  readonly #notes = new Map<string, Indexed>();
  /** `owner\0sourceId` → path, for idempotent creation. */
  readonly #bySource = new Map<string, string>();
  /** One change at a time per path (and per new note's source). */
  readonly #locks = new KeyedLock();
  /**
   * Paths handed to notes being written: two users' notes with the same title, written at the
   * same moment, must not both get the free path (the second file would replace the first).
   */
  readonly #reserved = new Set<string>();
  #watcher: FSWatcher | null = null;

  constructor(service: MemoryService, options: KnowledgeBaseOptions) {
    this.#service = service;
    this.#options = options;
    this.#git = new GitRepo({ ...options, dir: options.dir });
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
    for (const path of await this.#markdownFiles()) {
      await this.#reindex(path).catch((error: unknown) => this.#options.onProblem?.(path, error));
    }
    if (this.#options.watch) await this.#watch();
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
    this.#watcher = null;
    await this.#git.close();
  }

  /** Notes of `userId`, newest first, optionally of one category. */
  list(userId: string, options: { category?: string | undefined } = {}): NoteSummary[] {
    return [...this.#notes.values()]
      .filter((note) => note.owner === userId && (options.category === undefined || note.category === options.category))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.path < b.path ? 1 : -1))
      .map(({ hash: _hash, ...summary }) => summary);
  }

  /** One of `userId`'s notes; another user's is not found. */
  async read(userId: string, path: string): Promise<Note> {
    const checked = checkNotePath(path);
    const indexed = this.#notes.get(checked);
    if (!indexed || indexed.owner !== userId) throw notFound('note', checked);
    const text = await readFile(join(this.#options.dir, checked), 'utf8');
    return parseNote(checked, text, this.#options.defaultOwner, indexed.createdAt);
  }

  /** Memory search over `userId`'s notes only. */
  async search(userId: string, query: string, limit = 5): Promise<KbHit[]> {
    const { results } = await this.#service.search(userId, { query, limit, filter: { source: 'kb' } });
    return results.flatMap(({ memory, score }) => {
      const path = memory.metadata.kbPath;
      const note = typeof path === 'string' ? this.#notes.get(path) : undefined;
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
      const existing = sourceKey ? this.#bySource.get(sourceKey) : undefined;
      if (existing) {
        const note = await this.read(userId, existing);
        return { note, created: false, commit: null, memoryIds: await this.#memoryIdsOf(userId, existing) };
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
      const text = renderNote(meta, body);
      const checked = parseNote('topics/general/note.md', text, this.#options.defaultOwner, meta.createdAt);
      this.#service.validateAdd(userId, this.#indexInputs(checked, 'topics/general/note.md', ''));
      const path = await this.#freePath(meta);
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
          await this.#deindex(path, { forget: true }).catch(() => undefined);
          await this.#git.unstageNew([path]).catch(() => undefined);
          throw error;
        }
        const note = parseNote(path, text, this.#options.defaultOwner, meta.createdAt);
        return { note, created: true, commit, memoryIds: await this.#memoryIdsOf(userId, path) };
      } finally {
        await this.#release(path);
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
      const indexed = this.#notes.get(checked);
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
      const memoryIds = () => this.#memoryIdsOf(userId, checked);
      if (text === before) return { note: current, commit: null, memoryIds: await memoryIds() };
      const note = parseNote(checked, text, this.#options.defaultOwner, indexed.createdAt);
      this.#service.validateAdd(userId, this.#indexInputs(note, checked, ''));
      await writeFileAtomic(file, text);
      let commit: string | null;
      try {
        await this.#reindexLocked(checked, { strict: true });
        commit = await this.#git.commit([checked], `edit note: ${next.title} (${next.category})`);
      } catch (error) {
        // Back to the previous text, indexed afresh whatever the failed attempt left of its memories.
        await writeFileAtomic(file, before);
        await this.#git.unstage([checked]).catch(() => undefined);
        this.#notes.set(checked, { ...indexed, hash: '' });
        await this.#reindexLocked(checked).catch((cause: unknown) => this.#options.onProblem?.(checked, cause));
        throw error;
      }
      return { note, commit, memoryIds: await memoryIds() };
    });
  }

  /** Deletes one of `userId`'s notes: the file (committed) and the memories indexing it. */
  async delete(userId: string, path: string): Promise<void> {
    const checked = checkNotePath(path);
    await this.#locks.run(checked, async () => {
      const indexed = this.#notes.get(checked);
      if (!indexed || indexed.owner !== userId) throw notFound('note', checked);
      await rm(join(this.#options.dir, checked), { force: true });
      await this.#git.commit([checked], `delete note: ${indexed.title}`);
      await this.#deindex(checked);
    });
  }

  /** Deletes every note of `userId` (a purge): one commit. Their memories go with the user's purge. */
  async purgeUser(userId: string): Promise<number> {
    const paths = this.list(userId).map((note) => note.path);
    for (const path of paths) {
      await rm(join(this.#options.dir, path), { force: true });
      this.#forget(path);
    }
    if (paths.length > 0) await this.#git.commit(paths, `purge notes of user ${userId}`);
    return paths.length;
  }

  /**
   * Re-reads one file and brings its memories in line (added, changed, or gone). A file that cannot
   * be parsed is reported and left as it was indexed, unless `strict` (a note being created), when
   * that is an error like any other.
   */
  async #reindex(path: string, options: { strict?: boolean } = {}): Promise<void> {
    await this.#locks.run(path, () => this.#reindexLocked(path, options));
  }

  /** `#reindex` for a caller that holds the path's lock already (an edit). */
  async #reindexLocked(path: string, options: { strict?: boolean } = {}): Promise<void> {
    const file = join(this.#options.dir, path);
    let text: string;
    let modified: Date;
    try {
      [text, modified] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtime)]);
    } catch {
      await this.#deindex(path);
      return;
    }
    const hash = createHash('sha256').update(text).digest('hex');
    const previous = this.#notes.get(path);
    if (previous?.hash === hash) return;
    let note: Note;
    try {
      note = parseNote(path, text, this.#options.defaultOwner, modified.toISOString());
    } catch (error) {
      if (options.strict) throw error;
      this.#options.onProblem?.(path, error);
      return;
    }
    const inputs = this.#indexInputs(note, path, hash);
    if (previous && previous.owner !== note.owner) await this.#deindex(path);
    const current = await this.#memoriesOf(note.owner, path);
    if (current.length === 0 || current.some((memory) => memory.metadata.kbHash !== hash)) {
      for (const memory of current) await this.#service.delete(note.owner, memory.id, ACTOR);
      // Each note's sections are its own: a section another note shares is indexed for both.
      await this.#service.addMany(note.owner, inputs, ACTOR, { dedupeNamespace: `kb:${path}` });
    }
    const { body: _body, ...summary } = note;
    this.#notes.set(path, { ...summary, hash });
    if (note.sourceId) this.#bySource.set(`${note.owner}\0${note.sourceId}`, path);
  }

  /** The memories that index a note, one per section; refused (413) when the note is over a limit. */
  #indexInputs(note: Note, path: string, hash: string): AddMemoryInput[] {
    const chunks = chunkMarkdown(note.title, note.body);
    const maxSections = this.#options.maxSections ?? 1_000;
    const maxBytes = this.#options.maxNoteBytes ?? 2_097_152;
    if (chunks.length > maxSections) {
      throw new EngramError(
        'payload_too_large',
        `the note has ${chunks.length} sections; a note is indexed as at most ${maxSections} (ENGRAM_KB_MAX_SECTIONS): split it into several notes`,
        { details: { limit: 'kb.maxSections', max: maxSections, actual: chunks.length } },
      );
    }
    const bytes = chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk.content), 0);
    if (bytes > maxBytes) {
      throw new EngramError(
        'payload_too_large',
        `the note's sections come to ${bytes} bytes with their headings; a note may store at most ${maxBytes} (ENGRAM_KB_MAX_NOTE_BYTES)`,
        { details: { limit: 'kb.maxNoteBytes', max: maxBytes, actual: bytes } },
      );
    }
    return chunks.map((chunk, i) => ({
      content: chunk.content,
      category: note.category,
      tags: note.tags,
      sessionId: `kb:${path}`,
      metadata: { kbPath: path, kbTitle: note.title, kbChunk: i, kbHash: hash },
      // The index mirrors the note verbatim: no near-duplicate folding, no LLM extraction.
      infer: false,
    }));
  }

  /** Drops a note's memories (deleted, or with `forget` erased with their history: a note that never was). */
  async #deindex(path: string, options: { forget?: boolean } = {}): Promise<void> {
    const previous = this.#notes.get(path);
    if (!previous) return;
    for (const memory of await this.#memoriesOf(previous.owner, path)) {
      if (options.forget) await this.#service.forget(previous.owner, memory.id);
      else await this.#service.delete(previous.owner, memory.id, ACTOR);
    }
    this.#forget(path);
  }

  #forget(path: string): void {
    const previous = this.#notes.get(path);
    if (previous?.sourceId) this.#bySource.delete(`${previous.owner}\0${previous.sourceId}`);
    this.#notes.delete(path);
  }

  async #memoriesOf(userId: string, path: string): Promise<Memory[]> {
    const found: Memory[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#service.list(userId, {
        limit: 200,
        ...(cursor && { cursor }),
        filter: { source: 'kb', metadata: { kbPath: path } },
      });
      found.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return found;
  }

  async #memoryIdsOf(userId: string, path: string): Promise<string[]> {
    return (await this.#memoriesOf(userId, path))
      .sort((a, b) => Number(a.metadata.kbChunk) - Number(b.metadata.kbChunk))
      .map((memory) => memory.id);
  }

  /**
   * A path no note has, on disk or being written — by this process or another one on the same
   * directory. It is reserved on disk with an exclusive create of `<path>.reserved` (atomic across
   * processes; not a `.md` file, so neither the watcher nor git looks at it), kept until the caller
   * releases it after the note is written.
   */
  async #freePath(meta: NoteMeta): Promise<string> {
    for (let n = 1; ; n++) {
      const path = notePath(meta, n);
      if (this.#notes.has(path) || this.#reserved.has(path)) continue;
      const file = join(this.#options.dir, path);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      try {
        await (await open(`${file}.reserved`, 'wx', 0o600)).close();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process is writing it
        throw error;
      }
      // Checked after reserving: a note written and released by another process just before is on disk now.
      if (await exists(file)) {
        await rm(`${file}.reserved`, { force: true });
        continue;
      }
      this.#reserved.add(path);
      return path;
    }
  }

  async #release(path: string): Promise<void> {
    this.#reserved.delete(path);
    await rm(join(this.#options.dir, `${path}.reserved`), { force: true });
  }

  /** Every `.md` file of the repository outside `.git`, as repository paths. */
  async #markdownFiles(): Promise<string[]> {
    const root = this.#options.dir;
    const entries = await readdir(join(root), { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
      .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .filter((path) => !path.startsWith('.git/') && path.startsWith(`${TOPICS}/`))
      .sort();
  }

  async #watch(): Promise<void> {
    const root = this.#options.dir;
    const watcher = watch(join(root, TOPICS), {
      ignoreInitial: true,
      ignored: (path, stats) => Boolean(stats?.isFile() && !path.endsWith('.md')) || path.includes(`${sep}.`),
      awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
    });
    const onChange = (file: string) => {
      const path = relative(root, file).split(sep).join('/');
      this.#reindex(path).catch((error: unknown) => this.#options.onProblem?.(path, error));
    };
    watcher.on('add', onChange).on('change', onChange).on('unlink', onChange);
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.#watcher = watcher;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? 'note';
  return line.replace(/^#+\s*/, '').trim();
}
