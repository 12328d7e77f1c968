/**
 * The one builder of new memories, for add and import alike: the memory as stored and the history
 * entries that record its arrival.
 */
import { v7 as uuidv7 } from 'uuid';
import { type Actor, historyEntry, importedEntry } from './history.js';
import { newId } from './ids.js';
import type { ImportItem, ParsedAdd } from './insert-input.js';
import type { HistoryEntry, Memory, MemorySource } from './types.js';

/** What a batch write stores for one new memory: the memory and its history entries. */
export interface NewMemory {
  memory: Memory;
  history: HistoryEntry[];
}

export function addedMemory(userId: string, input: ParsedAdd, hash: string, actor: Actor, at: string): NewMemory {
  const memory = buildMemory(userId, input, hash, { id: newId(), createdAt: at, updatedAt: at, source: actor.source });
  return { memory, history: [historyEntry('add', null, memory, actor, at)] };
}

/** See `MemoryService.importBatch` for the rules; `carried` counts the history entries kept. */
export function importedMemory(
  userId: string,
  item: ImportItem,
  input: ParsedAdd,
  hash: string,
  actor: Actor,
  at: string,
): NewMemory & { carried: number } {
  const createdAt = isoOrNull(item.createdAt) ?? at;
  const memory = buildMemory(userId, input, hash, {
    id: uuidv7({ msecs: Date.parse(createdAt) }),
    createdAt,
    updatedAt: isoOrNull(item.updatedAt) ?? createdAt,
    source: 'import',
  });
  const carried = (item.history ?? []).map((entry) => importedEntry(entry, memory, actor));
  const history =
    carried.length > 0 ? carried : [{ ...historyEntry('add', null, memory, actor, at), reason: 'import' }];
  return { memory, history, carried: carried.length };
}

function buildMemory(
  userId: string,
  input: ParsedAdd,
  hash: string,
  origin: { id: string; createdAt: string; updatedAt: string; source: MemorySource },
): Memory {
  return {
    id: origin.id,
    userId,
    agentId: input.agentId ?? null,
    sessionId: input.sessionId ?? null,
    content: input.content,
    category: input.category ?? 'general',
    tags: dedupeTags(input.tags ?? []),
    metadata: input.metadata ?? {},
    createdAt: origin.createdAt,
    updatedAt: origin.updatedAt,
    eventAt: input.eventAt ?? null,
    expiresAt:
      input.expiresAt ??
      (input.ttlSeconds === undefined
        ? null
        : new Date(Date.parse(origin.createdAt) + input.ttlSeconds * 1000).toISOString()),
    pinned: input.pinned ?? false,
    source: origin.source,
    hash,
    supersededBy: null,
    validTo: null,
    accessCount: 0,
    lastAccessedAt: null,
  };
}

export function dedupeTags(tags: string[]): string[] {
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
}

/** An ISO-8601 instant in `toISOString` form, or null when `value` is not a date. */
function isoOrNull(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
