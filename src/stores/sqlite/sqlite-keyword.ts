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
 * with N the user's memories (kept at write time in user_usage), n(t) those containing t (kept at
 * write time in user_terms, sqlite-terms.ts; both whatever the search's filter, so a filter does
 * not reweigh words), tf and len counted on each memory's words with the same folding and Porter
 * stemming as the full-text index, and avglen the mean length of the user's matching memories. This idf (Lucene's) never goes
 * negative, so a word in most of a small store still counts a little. Runs on a reader thread.
 *
 * A user with more than POOL matching memories gets a pool of POOL scored this way, led by the
 * memories with both of the two rarest words, then by the rarest words (`largePool`), so the cost
 * of a search stays that of POOL memories however large the user grows.
 */
import { words } from '../../core/text.js';
import type { Statements } from './sqlite-statements.js';
import { stemOf, termCounts } from './sqlite-terms.js';

const K1 = 1.2;
const B = 0.75;
/** Matching memories scored in full; a search with more scores a pool of this many (`largePool`). */
const POOL = 2_000;
/** Of a large pool, at most this many (the newest) are memories with both of the search's two rarest words. */
const BOTH = 500;

export interface KeywordQuery {
  userId: string;
  /** The user's `owner` token in the full-text index. */
  owner: string;
  terms: string[];
  /**
   * A condition on `memories m` that starts with `m.user_id = ?` (the search's filter, `filterSql`)
   * and its parameters: the full-text match may leave the owner token out and rely on it.
   */
  where: string;
  params: unknown[];
  limit: number;
}

const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;

/**
 * The full-text query for some words in the user's memories. The `owner` token restricts the
 * match to them, and the search's filter (`m.user_id = ?` first) restricts it again; walking the
 * owner token costs as much as the user has, so a user with most of the store's memories (one
 * user is what a self-hosted Engram usually has) leaves it out and lets the filter drop the few
 * others: at 1M memories in one user a word's newest POOL matches took 5.2 ms with it, 1.4 without.
 * The store's size is its largest rowid, never below its count, so the owner token is left out
 * only when the user really holds at least half of it.
 */
function matcher(statements: Statements, owner: string, memories: number): (words: string) => string {
  const largest =
    (statements.get('SELECT max(rowid) AS largest FROM memories').get() as { largest: number | null }).largest ?? 0;
  return memories * 2 >= largest
    ? (words) => `content : (${words})`
    : (words) => `owner : ${quote(owner)} AND content : (${words})`;
}

export function rankKeyword(
  statements: Statements,
  query: KeywordQuery,
): { id: string; score: number; coverage: number }[] {
  const { where, params } = query;
  // Each distinct stem with one query word that has it (the word is what FTS5 is asked for).
  const termOf = new Map<string, string>();
  for (const term of query.terms) if (!termOf.has(stemOf(term))) termOf.set(stemOf(term), term);
  const stems = [...termOf.keys()];
  if (stems.length === 0) return [];
  const from = `FROM memories_fts JOIN memories m ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND ${where}`;
  // N, kept at write time (migrations.ts, version 9): counting the owner token's entries in the
  // index read one per memory of the user, the largest part of a keyword search at 1M memories.
  const total =
    (
      statements.get('SELECT memories FROM user_usage WHERE user_id = ?').get(query.userId) as
        | { memories: number }
        | undefined
    )?.memories ?? 0;
  const match = matcher(statements, query.owner, total);
  // The statistics: all of the user's memories (whatever the search's filter), kept at write time.
  const containing = termCounts(statements, query.userId, stems);
  // They bound the matches, so a search with more than POOL goes straight to the large pool
  // (reading the first POOL + 1 matches only to find that out was a quarter of its time at 300k).
  // FTS5's stemmer may still match a form the counts do not know: past POOL, the same pool.
  const bound = [...containing.values()].reduce((sum, n) => sum + n, 0);
  let pool =
    bound > POOL
      ? null
      : (statements
          .get(`SELECT m.id AS id, m.content AS content ${from} LIMIT ?`)
          .all(match(query.terms.map(quote).join(' OR ')), ...params, POOL + 1) as { id: string; content: string }[]);
  if (pool === null || pool.length > POOL) pool = largePool(statements, query, termOf, containing, from, match);
  if (pool.length === 0) return [];
  // Porter stemming keeps a word's first letters, so only words that start like a query stem are
  // stemmed; the rest only count towards the length.
  const prefixes = new Set(stems.map((stem) => stem.slice(0, 3)));
  const docs = pool.map(({ id, content }) => {
    const tokens = words(content);
    const tf = new Map<string, number>();
    for (const token of tokens) {
      if (!prefixes.has(token.slice(0, 3)) && !prefixes.has(token.slice(0, 2))) continue;
      const stem = stemOf(token);
      if (stems.includes(stem)) tf.set(stem, (tf.get(stem) ?? 0) + 1);
    }
    return { id, length: tokens.length, tf };
  });
  const idf = new Map(
    stems.map((stem) => {
      // At most N: a memory changed behind Engram's back can skew the counts (sqlite-terms.ts).
      const n = Math.min(containing.get(stem) ?? 0, total);
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

/**
 * The pool of a search whose words match more than POOL of the user's memories, the newest first
 * at each step: up to BOTH memories with both of the two rarest words, then the memories with each
 * word, the rarest first, until POOL. BM25 weighs rare words most and adds up the words a memory
 * has, so the best-scoring memories are almost always among these. Each word alone (as before)
 * lost an older memory with both of two common words once POOL newer memories had one of them (the
 * conformance suite has the case). Asking for memories with every word instead of the two rarest
 * made p95 at 1M memories in one user half again as slow (28 ms against 18): walking the common
 * words' long lists costs more than they add. Ranking every match by FTS5's `bm25()` cost
 * 110 ms at 300k memories in one user, and grew.
 */
function largePool(
  statements: Statements,
  query: KeywordQuery,
  termOf: Map<string, string>,
  containing: Map<string, number>,
  from: string,
  match: (words: string) => string,
): { id: string; content: string }[] {
  const pool = new Map<string, string>();
  const stems = [...termOf.keys()].sort((a, b) => (containing.get(a) ?? 0) - (containing.get(b) ?? 0));
  const select = statements.get(
    `SELECT m.id AS id, m.content AS content ${from} ORDER BY memories_fts.rowid DESC LIMIT ?`,
  );
  const take = (some: string[], limit: number) => {
    const words = some.map((stem) => quote(termOf.get(stem) as string)).join(' AND ');
    for (const row of select.all(match(words), ...query.params, limit) as { id: string; content: string }[]) {
      if (pool.size >= POOL) break;
      pool.set(row.id, row.content);
    }
  };
  // The two rarest words some memory has, when the rarest is in more memories than the pool holds
  // (in fewer, all of them join the pool below, with every memory that has both).
  const [rarest, next] = stems.filter((stem) => (containing.get(stem) ?? 0) > 0);
  if (rarest && next && (containing.get(rarest) ?? 0) > POOL) take([rarest, next], BOTH);
  for (const stem of stems) if (pool.size < POOL) take([stem], POOL);
  return [...pool].map(([id, content]) => ({ id, content }));
}
