import { newId } from './ids.js';
import type { HistoryEntry, HistoryEvent, Memory, MemorySource } from './types.js';

/** Who makes a change: recorded in history, and the source of new memories. */
export interface Actor {
  name: string;
  source: MemorySource;
}

/** The history entry of one change by `actor`; `before` is null for an add, `after` for a delete. */
export function historyEntry(
  event: HistoryEvent,
  before: Memory | null,
  after: Memory | null,
  actor: Actor,
  at: string,
): HistoryEntry {
  const memory = (after ?? before) as Memory;
  return {
    id: newId(),
    memoryId: memory.id,
    userId: memory.userId,
    event,
    before,
    after,
    actor: actor.name,
    at,
    reason: null,
  };
}

/** A carried history entry re-homed onto `memory`, marked so it cannot pass for this store's own record. */
export function importedEntry(entry: HistoryEntry, memory: Memory, actor: Actor): HistoryEntry {
  const rehome = (snapshot: Memory | null): Memory | null =>
    snapshot === null ? null : { ...snapshot, id: memory.id, userId: memory.userId };
  return {
    ...entry,
    id: newId(),
    memoryId: memory.id,
    userId: memory.userId,
    before: rehome(entry.before),
    after: rehome(entry.after),
    actor: `${entry.actor} (imported by ${actor.name})`,
    reason: 'imported',
  };
}
