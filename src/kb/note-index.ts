/**
 * The knowledge base's index: which notes there are (path, owner, title, …) and the memories that
 * index each one, one per section, source `kb`, sharing the `sessionId` `kb:<path>`. Re-reading a
 * file brings its memories in line with it; the caller (knowledge-base.ts) holds the path's lock.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EngramError } from '../core/errors.js';
import type { Actor, EraseOptions, MemoryService } from '../core/memory-service.js';
import type { AddMemoryInput } from '../core/schemas.js';
import type { Memory } from '../core/types.js';
import { chunkMarkdown } from './chunk.js';
import { type Note, type NoteMeta, parseNote } from './note.js';

export interface NoteSummary extends NoteMeta {
  path: string;
}

export interface IndexedNote extends NoteSummary {
  /** sha256 of the file text, so unchanged notes are not re-indexed. */
  hash: string;
}

export interface NoteIndexOptions {
  dir: string;
  /** Owner of notes whose frontmatter names none (notes written by hand). */
  defaultOwner: string;
  /** Reports notes that could not be indexed (bad frontmatter, unreadable, over a limit). */
  onProblem?: ((path: string, error: unknown) => void) | undefined;
  /** Most sections one note is indexed as; default 1,000. */
  maxSections?: number | undefined;
  /** Most bytes one note's sections may hold in all; default 2 MiB. */
  maxNoteBytes?: number | undefined;
}

const ACTOR: Actor = { name: 'kb', source: 'kb' };
/** The index drops its own memories: a note's sections may go (the service refuses anyone else). */
const OWN_INDEX: EraseOptions = { noteIndex: true };

export class NoteIndex {
  readonly #service: MemoryService;
  readonly #options: NoteIndexOptions;
  /** Every indexed note by path. */
  readonly #notes = new Map<string, IndexedNote>();
  /** `owner\0sourceId` → path, for idempotent creation. */
  readonly #bySource = new Map<string, string>();

  constructor(service: MemoryService, options: NoteIndexOptions) {
    this.#service = service;
    this.#options = options;
  }

  get(path: string): IndexedNote | undefined {
    return this.#notes.get(path);
  }

  has(path: string): boolean {
    return this.#notes.has(path);
  }

  /** The path of `owner`'s note made from `sourceId`, if there is one. */
  pathOfSource(owner: string, sourceId: string): string | undefined {
    return this.#bySource.get(`${owner}\0${sourceId}`);
  }

  /** Notes of `owner`, newest first, optionally of one category. */
  list(owner: string, options: { category?: string | undefined } = {}): NoteSummary[] {
    return [...this.#notes.values()]
      .filter((note) => note.owner === owner && (options.category === undefined || note.category === options.category))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.path < b.path ? 1 : -1))
      .map(({ hash: _hash, ...summary }) => summary);
  }

  /**
   * Re-reads one file and brings its memories in line (added, changed, or gone). A file that cannot
   * be parsed is reported and left as it was indexed, unless `strict` (a note being written), when
   * that is an error like any other. The caller holds the path's lock.
   */
  async reindex(path: string, options: { strict?: boolean } = {}): Promise<void> {
    const file = join(this.#options.dir, path);
    let text: string;
    let modified: Date;
    try {
      [text, modified] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtime)]);
    } catch {
      await this.deindex(path);
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
    const inputs = this.inputs(note, path, hash);
    if (previous && previous.owner !== note.owner) await this.deindex(path);
    const current = await this.#memoriesOf(note.owner, path);
    if (current.length === 0 || current.some((memory) => memory.metadata.kbHash !== hash)) {
      for (const memory of current) await this.#service.delete(note.owner, memory.id, ACTOR, OWN_INDEX);
      // Each note's sections are its own: a section another note shares is indexed for both.
      await this.#service.addMany(note.owner, inputs, ACTOR, { dedupeNamespace: `kb:${path}` });
    }
    const { body: _body, ...summary } = note;
    this.#notes.set(path, { ...summary, hash });
    if (note.sourceId) this.#bySource.set(`${note.owner}\0${note.sourceId}`, path);
  }

  /** Makes the next `reindex` of the note re-read it whatever its hash, from what `entry` says of it. */
  markStale(entry: IndexedNote): void {
    this.#notes.set(entry.path, { ...entry, hash: '' });
  }

  /** The memories that index a note, one per section; refused (413) when the note is over a limit. */
  inputs(note: Note, path: string, hash: string): AddMemoryInput[] {
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
  async deindex(path: string, options: { forget?: boolean } = {}): Promise<void> {
    const previous = this.#notes.get(path);
    if (!previous) return;
    for (const memory of await this.#memoriesOf(previous.owner, path)) {
      if (options.forget) await this.#service.forget(previous.owner, memory.id, OWN_INDEX);
      else await this.#service.delete(previous.owner, memory.id, ACTOR, OWN_INDEX);
    }
    this.drop(path);
  }

  /** Takes a note out of the index, leaving its memories (a purge erases them with the user's). */
  drop(path: string): void {
    const previous = this.#notes.get(path);
    if (previous?.sourceId) this.#bySource.delete(`${previous.owner}\0${previous.sourceId}`);
    this.#notes.delete(path);
  }

  /** Ids of the memories that index a note, in section order. */
  async memoryIds(owner: string, path: string): Promise<string[]> {
    return (await this.#memoriesOf(owner, path))
      .sort((a, b) => Number(a.metadata.kbChunk) - Number(b.metadata.kbChunk))
      .map((memory) => memory.id);
  }

  async #memoriesOf(owner: string, path: string): Promise<Memory[]> {
    const found: Memory[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#service.list(owner, {
        limit: 200,
        ...(cursor && { cursor }),
        filter: { source: 'kb', metadata: { kbPath: path } },
      });
      found.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return found;
  }
}
