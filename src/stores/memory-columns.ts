/**
 * The `memories` table of the SQL stores, defined once: the column of each `Memory` field, what
 * kind of value it holds, and which writes set it. Both SQL stores derive their column lists,
 * statements and row mappers from it; how each dialect stores a kind of value (JSON as text or
 * parsed by the driver, booleans as 0/1 or as booleans) is a small codec of that store's. A new
 * field of `Memory` does not compile until it has a column here (and a migration in each store).
 */
import type { Memory } from '../core/types.js';

/** What a column holds: text (also timestamps, ISO-8601), a whole number, a boolean, or JSON. */
export type ColumnKind = 'text' | 'integer' | 'boolean' | 'json' | 'jsonb';

/**
 * Which writes set a column: `key` identifies the row (written by an insert, matched by a
 * rewrite); `rewrite` is written by the insert and by every rewrite of the memory (`update`,
 * `insert`'s `changed`); `insert` only by the insert (the creation time, and the access
 * statistics, which only `touch` changes afterwards).
 */
export type ColumnWrite = 'key' | 'rewrite' | 'insert';

export interface MemoryColumn {
  readonly column: string;
  /**
   * `jsonb` is JSON that PostgreSQL stores as `jsonb` (searched by containment: tags); `json`
   * keeps key order (so exports match the other stores'). SQLite stores both as JSON text.
   */
  readonly kind: ColumnKind;
  readonly write: ColumnWrite;
}

/** Every field of `Memory`, in column order. */
export const MEMORY_TABLE = {
  id: { column: 'id', kind: 'text', write: 'key' },
  userId: { column: 'user_id', kind: 'text', write: 'key' },
  agentId: { column: 'agent_id', kind: 'text', write: 'rewrite' },
  sessionId: { column: 'session_id', kind: 'text', write: 'rewrite' },
  content: { column: 'content', kind: 'text', write: 'rewrite' },
  category: { column: 'category', kind: 'text', write: 'rewrite' },
  tags: { column: 'tags', kind: 'jsonb', write: 'rewrite' },
  metadata: { column: 'metadata', kind: 'json', write: 'rewrite' },
  createdAt: { column: 'created_at', kind: 'text', write: 'insert' },
  updatedAt: { column: 'updated_at', kind: 'text', write: 'rewrite' },
  eventAt: { column: 'event_at', kind: 'text', write: 'rewrite' },
  expiresAt: { column: 'expires_at', kind: 'text', write: 'rewrite' },
  pinned: { column: 'pinned', kind: 'boolean', write: 'rewrite' },
  source: { column: 'source', kind: 'text', write: 'rewrite' },
  hash: { column: 'hash', kind: 'text', write: 'rewrite' },
  supersededBy: { column: 'superseded_by', kind: 'text', write: 'rewrite' },
  validTo: { column: 'valid_to', kind: 'text', write: 'rewrite' },
  accessCount: { column: 'access_count', kind: 'integer', write: 'insert' },
  lastAccessedAt: { column: 'last_accessed_at', kind: 'text', write: 'insert' },
} as const satisfies { readonly [F in keyof Memory]: MemoryColumn };

type Table = typeof MEMORY_TABLE;

/**
 * A `memories` row as a store reads or writes it: text and number columns hold the field's value
 * as it is; the others hold what the dialect's codec makes of it.
 */
export type MemoryRow = {
  [F in keyof Table as Table[F]['column']]: Table[F]['kind'] extends 'text' | 'integer' ? Memory[F] : unknown;
};

const FIELDS = Object.keys(MEMORY_TABLE) as (keyof Memory)[];

/** Every column, in order, with the field it holds. */
export const MEMORY_COLUMNS: readonly (MemoryColumn & { field: keyof Memory })[] = FIELDS.map((field) => ({
  field,
  ...MEMORY_TABLE[field],
}));

/** The columns a rewrite of a memory sets (not its key, creation time or access statistics). */
export const REWRITTEN_COLUMNS = MEMORY_COLUMNS.filter((column) => column.write === 'rewrite');

/** The SELECT list of every memory column of the table aliased `alias` (`m.id, m.user_id, …`). */
export function selectMemoryColumns(alias: string): string {
  return MEMORY_COLUMNS.map(({ column }) => `${alias}.${column}`).join(', ');
}

/** How one store encodes a kind of value into its column and decodes it back. */
export interface ColumnCodec {
  encode(value: unknown): unknown;
  decode(value: unknown): unknown;
}

/** The value as it is, both ways. */
export const asIs: ColumnCodec = { encode: (value) => value, decode: (value) => value };

/** A store's codecs, one per kind of column. */
export type ColumnCodecs = Readonly<Record<ColumnKind, ColumnCodec>>;

/** A store's mappers between `Memory` and its `memories` rows. */
export interface MemoryRows {
  toRow(memory: Memory): MemoryRow;
  fromRow(row: MemoryRow): Memory;
}

export function memoryRows(codecs: ColumnCodecs): MemoryRows {
  return {
    toRow(memory) {
      const row: Record<string, unknown> = {};
      for (const { field, column, kind } of MEMORY_COLUMNS) row[column] = codecs[kind].encode(memory[field]);
      return row as MemoryRow;
    },
    fromRow(row) {
      const cells = row as Record<string, unknown>;
      const memory: Record<string, unknown> = {};
      for (const { field, column, kind } of MEMORY_COLUMNS) memory[field] = codecs[kind].decode(cells[column]);
      return memory as unknown as Memory;
    },
  };
}
