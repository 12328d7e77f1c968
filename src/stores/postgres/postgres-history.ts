import type pg from 'pg';
import { decodeCursor, encodeCursor } from '../../core/filter.js';
import type { HistoryEntry, Memory, Page } from '../../core/types.js';
import { HISTORY_COLUMNS, historyFromRow, historyValues, type HistoryRow as Row } from '../history-columns.js';
import { type DeletedOptions, groupHistory, type MemoryHistory } from '../store.js';
import type { PostgresDb } from './postgres-db.js';
import { transpose } from './postgres-rows.js';

type HistoryRow = Row<Memory>;
const fromRow = (row: HistoryRow): HistoryEntry => historyFromRow(row, (value) => value);

/**
 * The PostgreSQL store's history (`MemoryHistory`); `appendHistory` writes entries in the
 * transaction of the change they record.
 */
export class PostgresHistory implements MemoryHistory {
  readonly #db: PostgresDb;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<HistoryRow>(
        'SELECT * FROM history WHERE user_id = $1 AND memory_id = $2 ORDER BY seq',
        [userId, memoryId],
      );
      return rows.map(fromRow);
    });
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    return this.#db.tx({ user: userId }, async (db) => {
      const { rows } = await db.query<HistoryRow>(
        'SELECT * FROM history WHERE user_id = $1 AND memory_id = ANY($2::text[]) ORDER BY memory_id, seq',
        [userId, memoryIds],
      );
      return groupHistory(rows.map(fromRow));
    });
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const params: unknown[] = [userId, options.limit + 1];
    let after = '';
    if (options.cursor !== undefined) {
      params.push(decodeCursor(options.cursor));
      after = ' AND h.id < $3';
    }
    return this.#db.tx({ user: userId }, async (db) => {
      // Each memory's last entry, when it is a delete and the memory is absent (over history_user_deletes).
      const { rows } = await db.query<HistoryRow>(
        `SELECT h.* FROM history h
         WHERE h.user_id = $1 AND h.event = 'delete'${after}
           AND NOT EXISTS (SELECT 1 FROM history later
                           WHERE later.user_id = h.user_id AND later.memory_id = h.memory_id AND later.seq > h.seq)
           AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.user_id = h.user_id AND m.id = h.memory_id)
         ORDER BY h.id DESC LIMIT $2`,
        params,
      );
      const items = rows.slice(0, options.limit).map(fromRow);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last.id) : null };
    });
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    for await (const rows of this.#db.cursor<HistoryRow>(
      'all',
      'SELECT * FROM history ORDER BY user_id, memory_id, seq',
      [],
      1_000,
    )) {
      for (const row of rows) yield fromRow(row);
    }
  }
}

/** Appends history entries in order, in one statement. */
export async function appendHistory(db: pg.PoolClient, entries: HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const columns = transpose(entries.map(historyValues));
  await db.query(
    `INSERT INTO history (${HISTORY_COLUMNS.join(', ')})
     SELECT id, memory_id, user_id, event, before::json, after::json, actor, at, reason
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
       WITH ORDINALITY AS t(id, memory_id, user_id, event, before, after, actor, at, reason, ord)
     ORDER BY ord`,
    columns,
  );
}
