/**
 * The `memories` table's rows (memory-columns.ts) as PostgreSQL holds them: JSON sent as its text
 * and parsed by the driver on the way back, booleans and numbers as they are; plus two columns of
 * its own, the words keyword search indexes and the vector.
 */
import { vectorToSql } from 'pgvector/utils';
import { words } from '../../core/text.js';
import type { Memory, MemoryRecord } from '../../core/types.js';
import {
  asIs,
  type ColumnCodec,
  type ColumnKind,
  MEMORY_COLUMNS,
  type MemoryRow,
  memoryRows,
  REWRITTEN_COLUMNS,
  selectMemoryColumns,
} from '../memory-columns.js';

export type { MemoryRow };

/** JSON goes as its text (pg would send a JS array as a PostgreSQL array); pg parses it coming back. */
const jsonText: ColumnCodec = { encode: (value) => JSON.stringify(value), decode: (value) => value };

export const { toRow, fromRow } = memoryRows({
  text: asIs,
  integer: asIs,
  boolean: asIs,
  json: jsonText,
  jsonb: jsonText,
});

/** `m.id, m.user_id, …`: every memory column of `memories m`. */
export const MEMORY_COLUMNS_SQL = selectMemoryColumns('m');

/** How a kind of column travels: the parameter's type, and the cast that makes it the column's. */
const TYPES: Record<ColumnKind, { param: string; cast: string }> = {
  text: { param: 'text', cast: '' },
  integer: { param: 'integer', cast: '' },
  boolean: { param: 'boolean', cast: '' },
  json: { param: 'text', cast: '::json' },
  jsonb: { param: 'text', cast: '::jsonb' },
};

interface Written {
  column: string;
  param: string;
  cast: string;
}

const written = (columns: typeof MEMORY_COLUMNS): Written[] =>
  columns.map(({ column, kind }) => ({ column, ...TYPES[kind] }));
const SEARCH_TEXT: Written = { column: 'search_text', param: 'text', cast: '' };
const EMBEDDING: Written = { column: 'embedding', param: 'text', cast: '::vector' };

/** The words keyword search indexes (core/text.ts), so matching agrees with the other stores. */
const searchText = (memory: Memory): string => words(memory.content).join(' ');

const cells = (row: MemoryRow, columns: typeof MEMORY_COLUMNS): unknown[] =>
  columns.map(({ column }) => (row as Record<string, unknown>)[column]);

const INSERTED = [...written(MEMORY_COLUMNS), SEARCH_TEXT, EMBEDDING];
const inserted = INSERTED.map(({ column }) => column).join(', ');

/** One statement for a batch of memories: each column as an array (`insertParams`), unnested into rows in order. */
export const INSERT_MEMORIES = `INSERT INTO memories (${inserted})
  SELECT ${INSERTED.map(({ column, cast }) => column + cast).join(', ')}
  FROM unnest(${INSERTED.map(({ param }, i) => `$${i + 1}::${param}[]`).join(', ')}) AS t(${inserted})`;

export function insertParams(records: MemoryRecord[]): unknown[][] {
  return transpose(
    records.map(({ memory, vector }) => [
      ...cells(toRow(memory), MEMORY_COLUMNS),
      searchText(memory),
      vectorToSql(Array.from(vector)),
    ]),
  );
}

const REWRITTEN = [...written(REWRITTEN_COLUMNS), SEARCH_TEXT];

/**
 * Rewrites a memory's columns (not created_at, not its access statistics); a vector replaces the
 * stored one when given (`rewriteParams`).
 */
export const REWRITE_MEMORY = `UPDATE memories SET ${REWRITTEN.map(({ column, cast }, i) => `${column} = $${i + 3}${cast}`).join(', ')},
    embedding = COALESCE($${REWRITTEN.length + 3}::vector, embedding)
  WHERE id = $1 AND user_id = $2`;

export function rewriteParams(memory: Memory, vector: Float32Array | null): unknown[] {
  return [
    memory.id,
    memory.userId,
    ...cells(toRow(memory), REWRITTEN_COLUMNS),
    searchText(memory),
    vector ? vectorToSql(Array.from(vector)) : null,
  ];
}

/** Rows of equal length → one array per column. */
export function transpose(rows: unknown[][]): unknown[][] {
  const width = rows[0]?.length ?? 0;
  return Array.from({ length: width }, (_, column) => rows.map((row) => row[column]));
}
