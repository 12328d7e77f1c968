/**
 * A user's vector search, on whichever thread runs it (a reader, or the main connection when the
 * store has none): an exact scan, or — when the user has an approximate index (ann/) — the index's
 * nearest candidates re-ranked by their exact distance, with the rows the index has not seen yet
 * scanned exactly. Everything is read in one transaction, so the index's state, the rows and
 * the changes since its build are one snapshot:
 *
 * - no phantom: a candidate counts only if its row is still there, still the user's, and passes the
 *   filter, ranked by the distance of the vector it has now;
 * - nothing new is lost: rows past the index's watermark (rowids are never reused, migrations.ts
 *   version 10) and rows whose vector changed since the build (ann_changes) are scanned exactly;
 * - a filter the candidates cannot satisfy falls back to the exact scan.
 *
 * What the index can cost is recall among the rows it covers — measured against exact search in
 * BENCHMARKS.md — and nothing else.
 */
import type Database from 'better-sqlite3';
import type { Statements } from '../sqlite-statements.js';
import { ANN_ROW_SQL, type AnnRow, newIndex, type UsearchIndex, wholeFile } from './ann-params.js';

/** One user's vector search, as the store sends it to a thread. */
export interface VectorQuery {
  userId: string;
  /** The query vector's float32 bytes. */
  vector: Uint8Array;
  dimension: number;
  /** The filter as SQL over `memories m` (sqlite-filter.ts), with its parameters. */
  where: string;
  params: unknown[];
  /** True when the filter keeps only some of the user's memories (more candidates are fetched). */
  narrowing: boolean;
  limit: number;
  /** False when the store's indexes are off (`annMinMemories` 0): always the exact scan. */
  approximate: boolean;
  /** The store's index directory (ann-params.ts). */
  dir: string;
}

export interface VectorRows {
  rows: { id: string; distance: number }[];
  /** How the rows were found; `unusable`: the index file could not be read (exact scan instead). */
  via: 'exact' | 'approximate' | 'fallback' | 'unusable';
}

type Row = { id: string; distance: number | null };

const SELECT = `SELECT m.id AS id, vec_distance_cosine(v.embedding, ?) AS distance
  FROM vectors v JOIN memories m ON m.rowid = v.rowid`;

/**
 * The index file this thread has mapped for each user (a file is never rewritten: a new build is a
 * new file, and replaces the user's view here, so a replaced file is unmapped once collected).
 */
const views = new Map<string, { file: string; index: UsearchIndex }>();
const MAX_VIEWS = 16;

function view(dir: string, userId: string, row: AnnRow & { file: string }): UsearchIndex {
  const cached = views.get(userId);
  views.delete(userId);
  if (cached?.file === row.file) {
    views.set(userId, cached); // most recently used last
    return cached.index;
  }
  const index = newIndex(row.dimension);
  index.view(wholeFile(dir, row));
  if (views.size >= MAX_VIEWS) views.delete(views.keys().next().value as string);
  views.set(userId, { file: row.file, index });
  return index;
}

/** Candidates to re-rank for `limit` results. */
export function candidates(limit: number, narrowing: boolean): number {
  return narrowing ? Math.max(limit * 20, 400) : Math.max(limit * 4, 64);
}

export function searchVectors(db: Database.Database, statements: Statements, query: VectorQuery): VectorRows {
  return db.transaction(() => search(statements, query))();
}

function search(statements: Statements, query: VectorQuery): VectorRows {
  const bytes = Buffer.from(query.vector.buffer, query.vector.byteOffset, query.vector.byteLength);
  const exact = (via: VectorRows['via']): VectorRows => ({
    rows: real(
      statements
        .get(`${SELECT} WHERE v.user_id = ? AND ${query.where} ORDER BY distance NULLS LAST LIMIT ?`)
        .all(bytes, query.userId, ...query.params, query.limit) as Row[],
    ),
    via,
  });
  if (!query.approximate) return exact('exact');
  const row = statements.get(ANN_ROW_SQL).get(query.userId) as AnnRow | undefined;
  if (!row?.file || row.dimension !== query.dimension) return exact('exact');
  let index: UsearchIndex;
  try {
    index = view(query.dir, query.userId, row as AnnRow & { file: string });
  } catch {
    return exact('unusable');
  }
  const wanted = candidates(query.limit, query.narrowing);
  const found = index.search(new Float32Array(bytes.buffer, bytes.byteOffset, query.dimension), wanted, 1);
  const changed = statements.get('SELECT row FROM ann_changes WHERE user_id = ?').all(query.userId) as {
    row: number;
  }[];
  const ids = [...Array.from(found.keys, Number), ...changed.map((change) => change.row)];
  const ranked = statements
    .get(
      `${SELECT} WHERE v.rowid IN (SELECT value FROM json_each(?)) AND v.user_id = ? AND ${query.where}
        ORDER BY distance NULLS LAST LIMIT ?`,
    )
    .all(bytes, JSON.stringify(ids), query.userId, ...query.params, query.limit) as Row[];
  const fresh = statements
    .get(`${SELECT} WHERE v.user_id = ? AND v.rowid > ? AND ${query.where} ORDER BY distance NULLS LAST LIMIT ?`)
    .all(bytes, query.userId, row.watermark, ...query.params, query.limit) as Row[];
  const merged = new Map<string, number>();
  for (const hit of real([...ranked, ...fresh])) merged.set(hit.id, hit.distance);
  // The index had more to give than was asked of it: a filter that kept fewer than the page must
  // see every row, as the exact scan does.
  if (merged.size < query.limit && found.keys.length >= wanted) return exact('fallback');
  const rows = [...merged].map(([id, distance]) => ({ id, distance }));
  rows.sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : 1));
  return { rows: rows.slice(0, query.limit), via: 'approximate' };
}

const real = (rows: Row[]): { id: string; distance: number }[] =>
  rows.flatMap((row) => (row.distance === null ? [] : [{ id: row.id, distance: row.distance }]));
