/**
 * A knowledge-base note: a markdown file with YAML frontmatter at
 * `topics/<category>/<YYYY-MM-DD>-<slug>.md`. This module only turns notes into text and paths and
 * back; it touches no files.
 */
import { posix } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { invalid } from '../core/errors.js';

export interface NoteMeta {
  title: string;
  /** Folder under `topics/` (a slug). */
  category: string;
  tags: string[];
  /** ISO 8601. */
  createdAt: string;
  /** Where it came from: `telegram`, `api`, `mcp`, `cli`, or `file` for notes written by hand. */
  source: string;
  /** The Engram user whose memories index this note. */
  owner: string;
  /** An identifier of the origin (e.g. the Telegram messages), so the same input never makes two notes. */
  sourceId: string | null;
}

export interface Note extends NoteMeta {
  /** Path inside the repository, `/`-separated. */
  path: string;
  body: string;
}

const FRONTMATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** The file text of a note: frontmatter, a blank line, the body. */
export function renderNote(meta: NoteMeta, body: string): string {
  const front: Record<string, unknown> = {
    title: meta.title,
    category: meta.category,
    tags: meta.tags,
    created_at: meta.createdAt,
    source: meta.source,
    owner: meta.owner,
    ...(meta.sourceId !== null && { source_id: meta.sourceId }),
  };
  return `---\n${stringify(front, { lineWidth: 0 })}---\n\n${body.trim()}\n`;
}

/**
 * Reads a note's file text. Notes written by hand may lack frontmatter or any field: the title
 * falls back to the first heading or the file name, the category to the folder, the owner to
 * `defaultOwner`. Malformed frontmatter is an error (the file is left unindexed and reported).
 */
export function parseNote(path: string, text: string, defaultOwner: string, fileTime: string): Note {
  const match = FRONTMATTER.exec(text);
  let front: Record<string, unknown> = {};
  if (match) {
    const doc = parseDocument(match[1] as string);
    if (doc.errors.length > 0) throw invalid(`${path}: frontmatter is not valid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as unknown;
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      throw invalid(`${path}: frontmatter must be a YAML mapping`);
    }
    front = (value ?? {}) as Record<string, unknown>;
  }
  const body = match ? text.slice(match[0].length) : text;
  const string = (value: unknown): string | null =>
    typeof value === 'string' && value.trim() !== ''
      ? value.trim()
      : value instanceof Date
        ? value.toISOString()
        : null;
  const heading = /^#{1,6}\s+(.+)$/m.exec(body)?.[1]?.trim();
  const folder = posix.dirname(path).split('/').at(-1) ?? 'general';
  const tags = Array.isArray(front.tags) ? front.tags.filter((tag): tag is string => typeof tag === 'string') : [];
  return {
    path,
    title: string(front.title) ?? heading ?? posix.basename(path, '.md'),
    category: categorySlug(string(front.category) ?? folder),
    tags,
    createdAt: string(front.created_at) ?? fileTime,
    source: string(front.source) ?? 'file',
    owner: string(front.owner) ?? defaultOwner,
    sourceId: string(front.source_id),
    body: body.trim(),
  };
}

/** Lower-case ASCII words joined by `-`: safe in a path on every filesystem. */
export function slugify(text: string, max = 60): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return slug;
}

/** A category as a folder name: its slug, or `general`. */
export function categorySlug(category: string): string {
  return slugify(category, 64) || 'general';
}

/** `topics/<category>/<YYYY-MM-DD>-<slug>[-n].md` for the n-th note of that name (n ≥ 2). */
export function notePath(meta: Pick<NoteMeta, 'title' | 'category' | 'createdAt'>, n = 1): string {
  const day = meta.createdAt.slice(0, 10);
  const slug = slugify(meta.title) || 'note';
  return `topics/${categorySlug(meta.category)}/${day}-${slug}${n > 1 ? `-${n}` : ''}.md`;
}

/**
 * A path a client named, checked before it gets near the filesystem: relative, `/`-separated,
 * no `.`/`..` segments, no control characters, ends in `.md`. Returns it normalised.
 */
export function checkNotePath(path: string): string {
  if (
    typeof path !== 'string' ||
    path.length === 0 ||
    path.length > 512 ||
    path.startsWith('/') ||
    path.includes('\\') ||
    /\p{C}/u.test(path) ||
    path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..') ||
    !path.endsWith('.md')
  ) {
    throw invalid(
      `not a note path: ${JSON.stringify(path.slice(0, 100))} (expected e.g. topics/work/2026-01-31-plan.md)`,
    );
  }
  return posix.normalize(path);
}
