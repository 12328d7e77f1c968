/**
 * The SQLite store's history (`MemoryHistory`); entries are written with the memories they
 * record (sqlite-writes.ts).
 */
import { decodeCursor, encodeCursor } from '../../core/filter.js';
import type { HistoryEntry, Page } from '../../core/types.js';
import { historyFromRow, type HistoryRow as Row } from '../history-columns.js';
import { type DeletedOptions, groupHistory, type MemoryHistory } from '../store.js';
import type { SqliteDb } from './sqlite-db.js';

type HistoryRow = Row<string>;
const fromRow = (row: HistoryRow): HistoryEntry => historyFromRow(row, (text) => JSON.parse(text));

export class SqliteHistory implements MemoryHistory {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    const rows = this.#db
      .prepare('SELECT * FROM history WHERE user_id = ? AND memory_id = ? ORDER BY rowid')
      .all(userId, memoryId) as HistoryRow[];
    return rows.map(fromRow);
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    const rows = this.#db
      .prepare(
        `SELECT * FROM history WHERE user_id = ? AND memory_id IN (SELECT value FROM json_each(?)) ORDER BY memory_id, rowid`,
      )
      .all(userId, JSON.stringify(memoryIds)) as HistoryRow[];
    return groupHistory(rows.map(fromRow));
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const params: unknown[] = [userId];
    let after = '';
    if (options.cursor !== undefined) {
      after = ' AND h.id < ?';
      params.push(decodeCursor(options.cursor));
    }
    // Each memory's last entry, when it is a delete and the memory is absent (over history_user_deletes).
    const rows = this.#db
      .prepare(
        `SELECT h.* FROM history h
         WHERE h.user_id = ? AND h.event = 'delete'${after}
           AND NOT EXISTS (SELECT 1 FROM history later
                           WHERE later.user_id = h.user_id AND later.memory_id = h.memory_id AND later.rowid > h.rowid)
           AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.user_id = h.user_id AND m.id = h.memory_id)
         ORDER BY h.id DESC LIMIT ?`,
      )
      .all(...params, options.limit + 1) as HistoryRow[];
    const items = rows.slice(0, options.limit).map(fromRow);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    // Keyset pages over the (user_id, memory_id, rowid) index.
    let after: [string, string, number] = ['', '', 0];
    const page = this.#db.prepare(
      `SELECT rowid AS seq, * FROM history WHERE (user_id, memory_id, rowid) > (?, ?, ?)
       ORDER BY user_id, memory_id, rowid LIMIT 1000`,
    );
    for (;;) {
      const rows = page.all(...after) as (HistoryRow & { seq: number })[];
      for (const row of rows) yield fromRow(row);
      const last = rows.at(-1);
      if (!last || rows.length < 1000) return;
      after = [last.user_id, last.memory_id, last.seq];
    }
  }
}
