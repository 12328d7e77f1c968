/** The REST API as the UI uses it: the key from session storage as a Bearer token, errors as EngramError. */

import { EngramError, errorFromResponse } from '../../src/core/errors.js';
import type { AddResult } from '../../src/core/insert.js';
import type { DeletedMemory } from '../../src/core/schemas.js';
import type { UserStats } from '../../src/core/stats.js';
// The server's own types: what the REST API returns (type-only: erased from the bundle).
import type { SearchExplanation as Explanation, HistoryEntry, Memory, SearchResult } from '../../src/core/types.js';
import type { NoteMeta } from '../../src/kb/note.js';
import type { UserSummary } from '../../src/stores/store.js';

export type { AddResult, DeletedMemory, Explanation, HistoryEntry, Memory, SearchResult, UserSummary };

export interface Filters {
  category?: string;
  tags?: string[];
  createdAfter?: string;
  createdBefore?: string;
}

/**
 * A failed call throws the server's own error rebuilt: an `EngramError` with the body's code,
 * message and details, and `Retry-After` as `details.retryAfterSeconds`, as the HTTP client
 * rebuilds it (src/core/errors.ts imports nothing, so bundling it brings nothing else along).
 */
export { EngramError };

/** What to show for a failed call: the API's own message, else the error's text. */
export const errorMessage = (caught: unknown): string =>
  caught instanceof EngramError ? caught.message : String(caught);

const KEY = 'engram.key';
const ACT_FOR = 'engram.actFor';
export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string) => sessionStorage.setItem(KEY, key),
  signOut: () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ACT_FOR);
  },
  /** The user an admin acts for (sent as X-User-ID), or null: the key's own (the default user). */
  actingFor: (): string | null => sessionStorage.getItem(ACT_FOR),
  actFor: (userId: string | null) =>
    userId ? sessionStorage.setItem(ACT_FOR, userId) : sessionStorage.removeItem(ACT_FOR),
};

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = session.key();
  if (key) headers.authorization = `Bearer ${key}`;
  const actingFor = session.actingFor();
  if (actingFor) headers['x-user-id'] = actingFor;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw errorFromResponse(response.status, text, response.headers.get('retry-after'));
  try {
    return JSON.parse(text) as T;
  } catch {
    return null as T;
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

const filterBody = (filters: Filters) => ({
  ...(filters.category && { category: filters.category }),
  ...(filters.tags?.length && { tagsAny: filters.tags }),
  ...(filters.createdAfter && { createdAfter: filters.createdAfter }),
  ...(filters.createdBefore && { createdBefore: filters.createdBefore }),
});

/** Who the signed-in key acts as (GET /v1/me). */
export interface Me {
  userId: string;
  admin: boolean;
  boundToUser: boolean;
  key: { id: string; name: string } | null;
}

export const api = {
  me: () => call<Me>('GET', '/v1/me'),
  search: (text: string, mode: Explanation['mode'], filters: Filters, limit: number) =>
    call<{ results: SearchResult[]; timings: { totalMs: number } }>('POST', '/v1/search', {
      query: text,
      mode,
      limit,
      filter: filterBody(filters),
    }),
  list: (filters: Filters, cursor?: string) =>
    call<{ items: Memory[]; nextCursor: string | null }>(
      'GET',
      `/v1/memories${query({
        limit: 50,
        cursor,
        category: filters.category,
        tags: filters.tags?.join(','),
        createdAfter: filters.createdAfter,
        createdBefore: filters.createdBefore,
      })}`,
    ),
  add: (memory: { content: string; category?: string; tags?: string[] }) =>
    call<AddResult>('POST', '/v1/memories', memory),
  get: (id: string) => call<Memory>('GET', `/v1/memories/${encodeURIComponent(id)}`),
  history: (id: string) => call<{ history: HistoryEntry[] }>('GET', `/v1/memories/${encodeURIComponent(id)}/history`),
  update: (id: string, change: Partial<Pick<Memory, 'content' | 'category' | 'tags' | 'pinned' | 'expiresAt'>>) =>
    call<Memory>('PATCH', `/v1/memories/${encodeURIComponent(id)}`, change),
  restore: (id: string) => call<Memory>('POST', `/v1/memories/${encodeURIComponent(id)}/restore`),
  forget: (id: string) => call<{ forgotten: string }>('POST', `/v1/memories/${encodeURIComponent(id)}/forget`),
  deleted: (cursor?: string) =>
    call<{ items: DeletedMemory[]; nextCursor: string | null }>(
      'GET',
      `/v1/deleted-memories${query({ limit: 50, cursor })}`,
    ),
  remove: (id: string) => call<{ deleted: Memory }>('DELETE', `/v1/memories/${encodeURIComponent(id)}`),
  categories: () => call<{ categories: { category: string; count: number }[] }>('GET', '/v1/categories'),
  stats: (days: number) => call<UserStats>('GET', `/v1/stats${query({ days })}`),
};

/** A note as the list returns it: its frontmatter and path. */
export type NoteSummary = NoteMeta & { path: string };
export type Note = NoteSummary & { body: string };
/** A note's fields as the editor sends them (an edit: only those to change). */
export interface NoteFields {
  title?: string;
  category?: string;
  tags?: string[];
  body?: string;
}
/** A section of a note that a search found (POST /v1/kb/search). */
export interface KbHit {
  path: string;
  title: string;
  /** `Title › Section`. */
  heading: string;
  text: string;
  score: number;
  memoryId: string;
}
/** A note written (created or edited); `commit` is null when nothing changed. */
export interface WrittenNote {
  note: Note;
  commit: string | null;
  memoryIds: string[];
}

export const kb = {
  /** Whether the server has a knowledge base, and why not. */
  status: () => call<{ enabled: boolean; available: boolean; reason: string | null }>('GET', '/v1/kb/status'),
  notes: () => call<{ items: NoteSummary[] }>('GET', '/v1/kb/notes'),
  note: (path: string) => call<Note>('GET', `/v1/kb/note${query({ path })}`),
  create: (fields: NoteFields & { body: string }) => call<WrittenNote>('POST', '/v1/kb/notes', fields),
  update: (path: string, change: NoteFields) => call<WrittenNote>('PATCH', `/v1/kb/note${query({ path })}`, change),
  remove: (path: string) => call<{ deleted: string }>('DELETE', `/v1/kb/note${query({ path })}`),
  search: (text: string, limit: number) => call<{ results: KbHit[] }>('POST', '/v1/kb/search', { query: text, limit }),
  memoriesOf: (path: string) =>
    call<{ items: Memory[]; nextCursor: string | null }>(
      'GET',
      `/v1/memories${query({ source: 'kb', metadata: JSON.stringify({ kbPath: path }), limit: 200 })}`,
    ),
};

export const server = {
  /** Prometheus text from /metrics (public: it holds no user data). */
  metrics: async (): Promise<string> => (await fetch('/metrics')).text(),
  ready: async () =>
    (await fetch('/ready')).json() as Promise<{ status: string; checks: Record<string, { detail: string }> }>,
};

export interface KeyView {
  id: string;
  name: string;
  admin: boolean;
  userId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export const admin = {
  users: () => call<{ users: UserSummary[] }>('GET', '/v1/admin/users'),
  keys: () => call<{ keys: KeyView[] }>('GET', '/v1/admin/keys'),
  /** Every user the store or an active key knows of, sorted: a key may exist before its first memory. */
  knownUsers: async (): Promise<string[]> => {
    const [store, page] = await Promise.all([admin.users(), admin.keys()]);
    const withKeys = page.keys.filter((key) => key.userId && !key.revokedAt).map((key) => key.userId as string);
    return [...new Set([...store.users.map((user) => user.userId), ...withKeys])].sort();
  },
  createKey: (request: { name?: string; admin?: boolean; userId?: string }) =>
    call<{ key: string; record: KeyView }>('POST', '/v1/admin/keys', request),
  revokeKey: (id: string) => call<{ revoked: KeyView }>('DELETE', `/v1/admin/keys/${encodeURIComponent(id)}`),
  purgeUser: (userId: string) =>
    call<{ userId: string; purged: number }>('DELETE', `/v1/users/${encodeURIComponent(userId)}`),
};
