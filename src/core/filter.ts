import { invalid } from './errors.js';
import type { Memory, StoreFilter } from './types.js';

/** Whether a memory is visible under a filter — the reference semantics every store implements. */
export function matchesFilter(memory: Memory, filter: StoreFilter): boolean {
  if (!filter.includeSuperseded && memory.supersededBy !== null) return false;
  if (!filter.includeExpired && memory.expiresAt !== null && memory.expiresAt <= filter.now) return false;
  if (filter.validAt !== undefined) {
    if (memory.createdAt > filter.validAt) return false;
    if (memory.validTo !== null && memory.validTo <= filter.validAt) return false;
  }
  if (filter.agentId !== undefined && memory.agentId !== filter.agentId) return false;
  if (filter.sessionId !== undefined && memory.sessionId !== filter.sessionId) return false;
  if (filter.category !== undefined && memory.category !== filter.category) return false;
  if (filter.source !== undefined && memory.source !== filter.source) return false;
  if (filter.tagsAny?.length && !filter.tagsAny.some((tag) => memory.tags.includes(tag))) return false;
  if (filter.tagsAll?.length && !filter.tagsAll.every((tag) => memory.tags.includes(tag))) return false;
  if (filter.createdAfter !== undefined && !(memory.createdAt >= filter.createdAfter)) return false;
  if (filter.createdBefore !== undefined && !(memory.createdAt < filter.createdBefore)) return false;
  if (filter.eventAfter !== undefined && (memory.eventAt === null || !(memory.eventAt >= filter.eventAfter)))
    return false;
  if (filter.eventBefore !== undefined && (memory.eventAt === null || !(memory.eventAt < filter.eventBefore)))
    return false;
  if (filter.metadata) {
    for (const [key, value] of Object.entries(filter.metadata)) {
      if (!(key in memory.metadata) || memory.metadata[key] !== value) return false;
    }
  }
  return true;
}

/** List pages run newest first; the cursor is the last id of the previous page. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ before: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && 'before' in parsed && typeof parsed.before === 'string') {
      return parsed.before;
    }
  } catch {
    // fall through to the error below
  }
  throw invalid('cursor is not one this server issued');
}
