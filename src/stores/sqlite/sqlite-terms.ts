/**
 * Each user's keyword statistics, kept at write time: for every word stem, how many of the user's
 * memories contain it (`user_terms`, migrations.ts version 11). Keyword ranking (sqlite-keyword.ts)
 * weighs a query's words by these counts; counting them in the full-text index at search time
 * walked the user's whole `owner` doclist once per word, which grew with the user (58 ms p95 of a
 * keyword search at 1M memories in one user, most of it those counts).
 *
 * Words are the same as keyword ranking's: `words()` (case and diacritics folded, as the index's
 * tokenizer does) and Porter stems. Every writer of memories keeps them: inserts (`insertRecords`)
 * add theirs in one statement per user and batch, deletes and content rewrites take theirs off
 * (`forgetTerms`, which also drops a word no memory of the user has left), a user's purge drops
 * their rows. These are statistics, not data: a memory
 * changed behind Engram's back (another program writing the file) only skews a word's weight.
 */
import { stemmer } from 'stemmer';
import { words } from '../../core/text.js';
import type { Statements } from './sqlite-statements.js';

/** Stems of words seen recently; words repeat, and stemming is most of the cost of counting. */
const stems = new Map<string, string>();
const STEM_CACHE = 100_000;

/** The stem of one folded word (`words()`), as keyword ranking and the statistics spell it. */
export function stemOf(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    if (stems.size >= STEM_CACHE) stems.clear();
    stem = stemmer(word);
    stems.set(word, stem);
  }
  return stem;
}

/** The distinct stems of a text. */
export function termsOf(text: string): Set<string> {
  const terms = new Set<string>();
  for (const word of words(text)) terms.add(stemOf(word));
  return terms;
}

const ADD = `INSERT INTO user_terms (user_id, term, memories) SELECT ?, key, value FROM json_each(?) WHERE true
  ON CONFLICT (user_id, term) DO UPDATE SET memories = memories + excluded.memories`;
const SUBTRACT = `UPDATE user_terms SET memories = max(memories - 1, 0)
  WHERE user_id = ? AND term IN (SELECT value FROM json_each(?))`;
const DROP_UNUSED = `DELETE FROM user_terms
  WHERE user_id = ? AND memories = 0 AND term IN (SELECT value FROM json_each(?))`;

/** Counts for the memories of one write, by user, then added in one statement per user. */
export class TermCounts {
  readonly #byUser = new Map<string, Map<string, number>>();

  add(userId: string, content: string): void {
    let counts = this.#byUser.get(userId);
    if (!counts) {
      counts = new Map();
      this.#byUser.set(userId, counts);
    }
    for (const term of termsOf(content)) counts.set(term, (counts.get(term) ?? 0) + 1);
  }

  /** Adds the counts to `user_terms`; call inside the write's transaction. */
  save(statements: Statements): void {
    const add = statements.get(ADD);
    for (const [userId, counts] of this.#byUser) add.run(userId, JSON.stringify(Object.fromEntries(counts)));
  }
}

/**
 * Takes a deleted or rewritten memory's words off its user's counts, and drops the words no memory
 * of the user has left: a forgotten memory's words must not stay in the file (`engram forget`,
 * then `compact`, leaves none). Inside the write's transaction.
 */
export function forgetTerms(statements: Statements, userId: string, content: string): void {
  const terms = JSON.stringify([...termsOf(content)]);
  statements.get(SUBTRACT).run(userId, terms);
  statements.get(DROP_UNUSED).run(userId, terms);
}

/** How many of the user's memories contain each of `terms` (stems); absent ones contain none. */
export function termCounts(statements: Statements, userId: string, terms: string[]): Map<string, number> {
  const rows = statements
    .get('SELECT term, memories FROM user_terms WHERE user_id = ? AND term IN (SELECT value FROM json_each(?))')
    .all(userId, JSON.stringify(terms)) as { term: string; memories: number }[];
  return new Map(rows.map((row) => [row.term, row.memories]));
}
