/**
 * The `history` table as both SQL stores hold it: its columns, how an entry becomes the values
 * of one row (JSON as text, which both drivers take), and how a row becomes an entry again.
 */
import type { HistoryEntry, Memory } from '../core/types.js';

/** The history table's columns, in the order `historyValues` gives them. */
export const HISTORY_COLUMNS = [
  'id',
  'memory_id',
  'user_id',
  'event',
  'before',
  'after',
  'actor',
  'at',
  'reason',
] as const;

/** One entry's values, in HISTORY_COLUMNS order; `before` and `after` as JSON text. */
export function historyValues(entry: HistoryEntry): (string | null)[] {
  return [
    entry.id,
    entry.memoryId,
    entry.userId,
    entry.event,
    entry.before === null ? null : JSON.stringify(entry.before),
    entry.after === null ? null : JSON.stringify(entry.after),
    entry.actor,
    entry.at,
    entry.reason,
  ];
}

/** A row of the history table; `J` is how a JSON column arrives: text from SQLite, parsed by pg. */
export interface HistoryRow<J> {
  id: string;
  memory_id: string;
  user_id: string;
  event: string;
  before: J | null;
  after: J | null;
  actor: string;
  at: string;
  reason: string | null;
}

/** An entry from its row; `json` reads one JSON column (`JSON.parse` for text, nothing when the driver parsed it). */
export function historyFromRow<J>(row: HistoryRow<J>, json: (value: J) => unknown): HistoryEntry {
  return {
    id: row.id,
    memoryId: row.memory_id,
    userId: row.user_id,
    event: row.event as HistoryEntry['event'],
    before: row.before === null ? null : (json(row.before) as Memory),
    after: row.after === null ? null : (json(row.after) as Memory),
    actor: row.actor,
    at: row.at,
    reason: row.reason,
  };
}
