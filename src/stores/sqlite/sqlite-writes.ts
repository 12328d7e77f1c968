/**
 * The SQLite store's writes of memories, shared by its main connection and its writer thread
 * (sqlite-writer.ts): the same statements whichever connection runs them. Callers hold the
 * transaction.
 */
import { EngramError } from '../../core/errors.js';
import type { HistoryEntry, Memory, MemoryRecord } from '../../core/types.js';
import { HISTORY_COLUMNS, historyValues } from '../history-columns.js';
import { MEMORY_COLUMNS, REWRITTEN_COLUMNS } from '../memory-columns.js';
import { duplicateContent, uniqueCandidates } from '../store.js';
import { toRow, vectorBytes } from './sqlite-rows.js';
import type { Statements } from './sqlite-statements.js';
import { forgetTerms, TermCounts } from './sqlite-terms.js';

const INSERT_MEMORY = `INSERT INTO memories (rowid, ${MEMORY_COLUMNS.map(({ column }) => column).join(', ')})
  VALUES (@rowid, ${MEMORY_COLUMNS.map(({ column }) => `@${column}`).join(', ')})`;

/** The columns that change when a memory is rewritten (memory-columns.ts); returns the row's rowid. */
const REWRITE_MEMORY = `UPDATE memories SET ${REWRITTEN_COLUMNS.map(({ column }) => `${column} = @${column}`).join(', ')}
  WHERE user_id = @user_id AND id = @id RETURNING rowid`;

/** One `MemoryStore.insert`: new memories with their vectors, history, memories changed with them. */
export interface InsertTask {
  records: MemoryRecord[];
  history: HistoryEntry[];
  changed: Memory[];
  /** See `InsertOptions.uniqueAt`. */
  uniqueAt: string | undefined;
}

/** Runs an insert; call inside an immediate transaction. */
export function insertRecords(statements: Statements, { records, history, changed, uniqueAt }: InsertTask): void {
  // Inside the write transaction: another process's add of the same content has committed or waits.
  const visibleCopy = statements.get(
    `SELECT 1 FROM memories WHERE user_id = ? AND hash = ? AND superseded_by IS NULL
       AND (expires_at IS NULL OR expires_at > ?) LIMIT 1`,
  );
  const copies = uniqueCandidates(records, uniqueAt).filter((memory) =>
    visibleCopy.get(memory.userId, memory.hash, uniqueAt),
  );
  if (copies.length > 0) throw duplicateContent(copies.map((memory) => memory.hash));
  for (const memory of changed) replaceMemory(statements, memory);
  const insertMemory = statements.get(INSERT_MEMORY);
  const insertVector = statements.get('INSERT INTO vectors (rowid, user_id, embedding) VALUES (?, ?, ?)');
  // The full-text row, as the memories table's `owner` column derives it (migrations.ts, version 7).
  const insertText = statements.get(`INSERT INTO memories_fts (rowid, owner, content) VALUES (?, 'u' || hex(?), ?)`);
  const added = new Map<string, { memories: number; bytes: number }>();
  const terms = new TermCounts();
  let rowid = highestRowid(statements);
  for (const { memory, vector } of records) {
    rowid += 1;
    insertMemory.run({ ...toRow(memory), rowid });
    insertVector.run(rowid, memory.userId, vectorBytes(vector));
    insertText.run(rowid, memory.userId, memory.content);
    terms.add(memory.userId, memory.content);
    const usage = added.get(memory.userId) ?? { memories: 0, bytes: 0 };
    usage.memories += 1;
    usage.bytes += Buffer.byteLength(memory.content);
    added.set(memory.userId, usage);
  }
  // Each user's usage, counted here for inserts and by trigger for deletes and rewrites (migrations.ts, version 9).
  const count = statements.get(`INSERT INTO user_usage (user_id, memories, bytes) VALUES (?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET memories = memories + excluded.memories, bytes = bytes + excluded.bytes`);
  for (const [userId, usage] of added) count.run(userId, usage.memories, usage.bytes);
  terms.save(statements);
  if (records.length > 0) {
    statements.get(`UPDATE store_meta SET value = CAST(? AS TEXT) WHERE key = 'rowid_high'`).run(rowid);
  }
  appendHistory(statements, history);
}

/**
 * The largest rowid a memory has ever had: new rows are numbered past it, so a rowid is never
 * reused after a delete (migrations.ts, version 10) and an approximate index's watermark
 * (ann/) stays true.
 */
function highestRowid(statements: Statements): number {
  const row = statements
    .get(
      `SELECT max(coalesce((SELECT max(rowid) FROM memories), 0),
                  coalesce((SELECT CAST(value AS INTEGER) FROM store_meta WHERE key = 'rowid_high'), 0)) AS high`,
    )
    .get() as { high: number };
  return row.high;
}

/** Rewrites a memory's fields (not its access statistics); returns its rowid. */
export function replaceMemory(statements: Statements, memory: Memory): number {
  const before = statements
    .get('SELECT content FROM memories WHERE user_id = ? AND id = ?')
    .get(memory.userId, memory.id) as { content: string } | undefined;
  if (before && before.content !== memory.content) {
    forgetTerms(statements, memory.userId, before.content);
    const terms = new TermCounts();
    terms.add(memory.userId, memory.content);
    terms.save(statements);
  }
  const result = statements.get(REWRITE_MEMORY).get(toRow(memory)) as { rowid: number } | undefined;
  if (!result) throw new EngramError('not_found', `memory ${JSON.stringify(memory.id)} was not found`);
  return result.rowid;
}

export function appendHistory(statements: Statements, entries: HistoryEntry[]): void {
  const statement = statements.get(
    `INSERT INTO history (${HISTORY_COLUMNS.join(', ')}) VALUES (${HISTORY_COLUMNS.map(() => '?').join(', ')})`,
  );
  for (const entry of entries) statement.run(...historyValues(entry));
}
