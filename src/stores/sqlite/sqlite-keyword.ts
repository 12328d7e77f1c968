/**
 * Keyword ranking for the SQLite store with the user's own statistics.
 *
 * FTS5's `bm25()` weighs each term by how many rows *of the whole table* contain it, and
 * normalises by the whole table's average length, so one user's memories would move another
 * user's scores and even the order of their own results: a side channel (docs/reliability.md).
 * Here FTS5 only finds the user's matching memories (the `owner` token restricts the match to
 * them); they are scored with BM25 over the user's memories alone:
 *
 *   score = Σ over query terms t of idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))
 *   idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
 *
 * with N the user's memories, n(t) those containing t (both counted in the index, whatever the
 * search's filter, so a filter does not reweigh words), tf and len
 * counted on each memory's words with the same folding and Porter stemming as the full-text index,
 * and avglen the mean length of the user's matching memories. This idf (Lucene's) never goes
 * negative, so a word in most of a small store still counts a little. Runs on a reader thread.
 *
 * A user with more than POOL matching memories gets the POOL best by FTS5's own rank scored this
 * way (their statistics stay the user's own; which memories enter that pool at its margin still
 * depends on the whole table's statistics).
 */
import { stemmer } from 'stemmer';
import { words } from '../../core/text.js';
import type { Statements } from './sqlite-statements.js';

const K1 = 1.2;
const B = 0.75;
/** Matching memories scored in full; beyond it, the best by FTS5's rank. */
const POOL = 2_000;

export interface KeywordQuery {
  /** The user's `owner` token in the full-text index. */
  owner: string;
  terms: string[];
  /** A condition on `memories m` (the search's filter) and its parameters. */
  where: string;
  params: unknown[];
  limit: number;
}

const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;

export function rankKeyword(
  statements: Statements,
  query: KeywordQuery,
): { id: string; score: number; coverage: number }[] {
  const { owner, where, params } = query;
  // Each distinct stem with one query word that has it (the word is what FTS5 is asked for).
  const termOf = new Map<string, string>();
  for (const term of query.terms) if (!termOf.has(stemmer(term))) termOf.set(stemmer(term), term);
  const stems = [...termOf.keys()];
  if (stems.length === 0) return [];
  const match = `owner : ${quote(owner)} AND content : (${query.terms.map(quote).join(' OR ')})`;
  const from = `FROM memories_fts JOIN memories m ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND ${where}`;
  let pool = statements
    .get(`SELECT m.id AS id, m.content AS content ${from} LIMIT ?`)
    .all(match, ...params, POOL + 1) as { id: string; content: string }[];
  if (pool.length === 0) return [];
  if (pool.length > POOL) {
    pool = statements
      .get(`SELECT m.id AS id, m.content AS content ${from} ORDER BY bm25(memories_fts, 0.0, 1.0) LIMIT ?`)
      .all(match, ...params, POOL) as { id: string; content: string }[];
  }
  // The statistics: all of the user's memories (whatever the search's filter), counted in the index.
  const count = (expression: string) =>
    (
      statements.get('SELECT count(*) AS n FROM memories_fts WHERE memories_fts MATCH ?').get(expression) as {
        n: number;
      }
    ).n;

  // Porter stemming keeps a word's first letters, so only words that start like a query stem are
  // stemmed; the rest only count towards the length. Stems are remembered across the pool.
  const prefixes = new Set(stems.map((stem) => stem.slice(0, 3)));
  const stemOf = new Map<string, string>();
  const docs = pool.map(({ id, content }) => {
    const tokens = words(content);
    const tf = new Map<string, number>();
    for (const token of tokens) {
      if (!prefixes.has(token.slice(0, 3)) && !prefixes.has(token.slice(0, 2))) continue;
      let stem = stemOf.get(token);
      if (stem === undefined) {
        stem = stemmer(token);
        stemOf.set(token, stem);
      }
      if (stems.includes(stem)) tf.set(stem, (tf.get(stem) ?? 0) + 1);
    }
    return { id, length: tokens.length, tf };
  });
  const total = count(`owner : ${quote(owner)}`);
  const idf = new Map(
    stems.map((stem) => {
      const term = termOf.get(stem) as string;
      const n = count(`owner : ${quote(owner)} AND content : ${quote(term)}`);
      return [stem, Math.log(1 + (total - n + 0.5) / (n + 0.5))];
    }),
  );
  const avgLength = docs.reduce((sum, doc) => sum + doc.length, 0) / docs.length || 1;
  const idfTotal = [...idf.values()].reduce((sum, value) => sum + value, 0);
  const scored = docs.map((doc, order) => {
    let score = 0;
    let covered = 0;
    for (const [stem, tf] of doc.tf) {
      const weight = idf.get(stem) ?? 0;
      score += (weight * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * doc.length) / avgLength));
      covered += weight;
    }
    return { id: doc.id, score, coverage: idfTotal > 0 ? covered / idfTotal : 0, order };
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);
  return scored.slice(0, query.limit).map(({ id, score, coverage }) => ({ id, score, coverage }));
}
