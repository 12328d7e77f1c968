/**
 * The approximate vector index of a large user (ann/): a usearch HNSW graph over the user's vectors,
 * cosine, stored as 16-bit floats: half the bytes of 32-bit floats, and the candidates are re-ranked
 * by their exact distance anyway (ann-search.ts). Measured in BENCHMARKS.md ("Approximate index").
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

type Usearch = typeof import('usearch');
export type UsearchIndex = InstanceType<Usearch['Index']>;

let usearch: Usearch | null | undefined;

/**
 * usearch, or null where its native binary does not load: it ships prebuilt binaries for Linux and
 * macOS (x64, arm64) only, and installs without building one, so elsewhere (Windows) the store
 * keeps every search exact instead of failing to start.
 */
export function usearchModule(): Usearch | null {
  if (usearch === undefined) {
    try {
      usearch = createRequire(import.meta.url)('usearch') as Usearch;
    } catch {
      usearch = null;
    }
  }
  return usearch;
}

/** Links per node: usearch's default. */
const CONNECTIVITY = 16;
/**
 * Candidates kept while inserting. On USE embeddings of generated texts (tight clusters of
 * near-identical sentences) 64 left some queries in a cluster the graph barely links to (recall@10
 * 0 for 2 % of queries at 20k); 128 builds 1.7× slower and, with EXPANSION_SEARCH, finds them all.
 */
const EXPANSION_ADD = 128;
/**
 * Candidates kept while searching (a search for more keeps as many as it asks for). 256 was the
 * least with recall 1.0 on those embeddings at 20k; 512 keeps 1M synthetic vectors near 0.95.
 * A search costs well under a millisecond at 20k and a few at 1M (BENCHMARKS.md, "Approximate index").
 */
export const EXPANSION_SEARCH = 512;

/**
 * Rows past an index or rewritten since its build, at most, before a build is due whatever the
 * index's size (sqlite-ann.ts); searches score those rows exactly, and past this many rewritten
 * rows (a re-embedding of the whole user) scan exactly instead (ann-search.ts).
 */
export const BEHIND_MAX = 10_000;

/** An empty index of this dimension, with the parameters every build and view uses. */
export function newIndex(dimension: number): UsearchIndex {
  const loaded = usearchModule();
  if (!loaded) throw new Error('usearch is not available on this platform');
  const { Index, MetricKind, ScalarKind } = loaded;
  return new Index({
    dimensions: dimension,
    metric: MetricKind.Cos,
    quantization: ScalarKind.F16,
    connectivity: CONNECTIVITY,
    expansion_add: EXPANSION_ADD,
    expansion_search: EXPANSION_SEARCH,
    multi: false,
  });
}

/** A user's index files live in `<database>.ann/`, named by user and build, never rewritten. */
export const annDir = (databasePath: string): string => `${databasePath}.ann`;

/** The state of a user's index as the database holds it (migrations.ts, version 10). */
export interface AnnRow {
  file: string | null;
  bytes: number;
  dimension: number;
  watermark: number;
  vectors: number;
}

export const ANN_ROW_SQL = 'SELECT file, bytes, dimension, watermark, vectors FROM ann_indexes WHERE user_id = ?';

/**
 * The path of a recorded index file, if it is the size its build wrote. usearch reads a file
 * without checking it, and a short one corrupts the process's memory: never load or map one that
 * is not whole. (A build's file is whole once recorded — temp file, fsync, rename — so a wrong size
 * means it was damaged or replaced since.)
 */
export function wholeFile(dir: string, row: AnnRow & { file: string }): string {
  const path = join(dir, row.file);
  if (statSync(path).size !== row.bytes) throw new Error(`${path} is not the size its build recorded`);
  return path;
}
