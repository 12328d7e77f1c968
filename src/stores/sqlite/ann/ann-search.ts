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
import { ANN_ROW_SQL, type AnnRow, BEHIND_MAX, newIndex, type UsearchIndex, wholeFile } from './ann-params.js';

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
  /** Read the index file into this thread's memory instead of mapping it (`annMemory: 'load'`). */
  load: boolean;
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
 * The index file this thread has mapped (or loaded) for each user (a file is never rewritten: a new
 * build is a new file, and replaces the user's view here, so a replaced file is unmapped once
 * collected). Mapped files cost address space and share the operating system's page cache; loaded
 * ones cost their size in this thread's memory, so fewer are kept.
 */
const views = new Map<string, { file: string; index: UsearchIndex }>();
const MAX_VIEWS = 16;
const MAX_LOADED = 2;

function view(query: VectorQuery, row: AnnRow & { file: string }): UsearchIndex {
  const cached = views.get(query.userId);
  views.delete(query.userId);
  if (cached?.file === row.file) {
    views.set(query.userId, cached); // most recently used last
    return cached.index;
  }
  const index = newIndex(row.dimension);
  const path = wholeFile(query.dir, row);
  if (query.load) index.load(path);
  else index.view(path);
  if (cached) release(cached.index, path);
  while (views.size >= (query.load ? MAX_LOADED : MAX_VIEWS)) {
    const [userId, oldest] = views.entries().next().value as [string, { index: UsearchIndex }];
    views.delete(userId);
    release(oldest.index, path);
  }
  views.set(query.userId, { file: row.file, index });
  return index;
}

/**
 * Frees a loaded index's memory now: the garbage collector would free it only when it finalizes
 * the object, which it has no reason to hurry (it does not see the 1 GB behind it). Mapping a
 * file that is there (the one just opened) in its place releases the copy.
 */
function release(index: UsearchIndex, path: string): void {
  try {
    index.view(path);
  } catch {
    // No longer used either way.
  }
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
    index = view(query, row as AnnRow & { file: string });
  } catch {
    return exact('unusable');
  }
  const wanted = candidates(query.limit, query.narrowing);
  const found = index.search(new Float32Array(bytes.buffer, bytes.byteOffset, query.dimension), wanted, 1);
  const changed = statements
    .get('SELECT row FROM ann_changes WHERE user_id = ? LIMIT ?')
    .all(query.userId, BEHIND_MAX + 1) as { row: number }[];
  // Most of the index is stale (the user's memories were re-embedded): a build is due; scan until then.
  if (changed.length > BEHIND_MAX) return exact('fallback');
  // Rewritten since the build: the index's copy of their vector is stale, so they are scored below.
  const stale = new Set(changed.map((change) => change.row));
  const nearest = Array.from(found.keys, Number).flatMap((row, i) =>
    stale.has(row) ? [] : [{ row, distance: found.distances[i] as number }],
  );
  const ids = [...visibleNearest(statements, query, nearest), ...stale];
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

/**
 * More than the index's distance of a memory can be off its exact distance, twice over: the index
 * keeps 16-bit floats (relative rounding 2^-11 per component), which moves a cosine distance by at
 * most about 2^-10 (2^-9 between two of them), with the products summed in 32-bit floats. A
 * candidate further than this behind the page's last cannot be nearer than it in exact distance.
 */
const F16_SLACK = 2 ** -8;

/**
 * The index's candidates (nearest first, by the index's distance) that a re-rank by exact distance
 * could put in the page: the first `limit` that are still the user's and pass the filter, and every
 * later one within F16_SLACK of the last of those (it might be nearer in exact distance). Only
 * their memories rows are read, a page at a time, and only their vectors are read afterwards:
 * re-ranking all 4 × limit candidates read two rows each, at random places in the file, which was
 * most of a search at 1M memories whenever those pages had left the cache.
 */
function visibleNearest(
  statements: Statements,
  query: VectorQuery,
  nearest: { row: number; distance: number }[],
): number[] {
  const visible = statements.get(
    `SELECT m.rowid AS row FROM memories m WHERE m.rowid IN (SELECT value FROM json_each(?)) AND m.user_id = ? AND ${query.where}`,
  );
  const chosen: number[] = [];
  // The limit-th visible candidate's distance and the slack, once there is one.
  let bound = Number.POSITIVE_INFINITY;
  let at = 0;
  while (at < nearest.length && (nearest[at] as { distance: number }).distance <= bound) {
    // A narrowing filter rejects most candidates: their rows are read at once.
    const size = query.narrowing ? nearest.length : Math.max(query.limit - chosen.length, 8);
    const page = nearest.slice(at, at + size);
    at += page.length;
    const rows = visible.all(JSON.stringify(page.map((candidate) => candidate.row)), query.userId, ...query.params);
    const kept = new Set((rows as { row: number }[]).map((row) => row.row));
    for (const candidate of page) {
      if (candidate.distance > bound) break;
      if (!kept.has(candidate.row)) continue;
      chosen.push(candidate.row);
      if (chosen.length === query.limit) bound = candidate.distance + F16_SLACK;
    }
  }
  return chosen;
}

const real = (rows: Row[]): { id: string; distance: number }[] =>
  rows.flatMap((row) => (row.distance === null ? [] : [{ id: row.id, distance: row.distance }]));
