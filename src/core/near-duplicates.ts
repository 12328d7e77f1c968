/**
 * Near-duplicate detection without an LLM. A new memory that says what a stored one already says —
 * "I live in Paris" after "I'm living in Paris now" — is folded into the stored one instead of
 * being kept twice. Two texts are near-duplicates when all of these hold:
 *
 * - their embeddings are close (cosine similarity ≥ `minSimilarity`);
 * - they share most of their content words (Jaccard overlap of stemmed words, stop words left out,
 *   ≥ `minOverlap`) — embeddings alone put "lives in Paris" next to "lives in Berlin" — and the
 *   shorter one's words are (almost) all in the longer one (coverage ≥ `minCoverage`), so a
 *   swapped word ("sister"/"brother") keeps two facts apart while added filler does not; with
 *   `strictWords`, any unshared word that is not filler ("used to", "wife") keeps them apart too,
 *   and so do shared words in another order ("tea over coffee") or past against present tense;
 * - they carry the same numbers ("30 years old" is not "31 years old");
 * - both or neither are negated ("likes coffee" is not "doesn't like coffee").
 *
 * Candidates are the user's visible memories that keyword search finds for the new text (a
 * near-duplicate shares most of its words, so it ranks there), compared by their stored vectors.
 * The thresholds were chosen on a hand-made fixture (test/fixtures/near-duplicates.json; see
 * docs/configuration.md for the measured merge and false-merge rates).
 */
import { stemmer } from 'stemmer';
import { cosine } from '../embed/embedder.js';
import { isStopWord, words } from './text.js';
import type { Memory } from './types.js';

export interface NearDuplicateOptions {
  /** Cosine similarity of the embeddings, at least. */
  minSimilarity: number;
  /** Jaccard overlap of the stemmed content words, at least. */
  minOverlap: number;
  /** Share of the shorter text's content words found in the longer one, at least (1: all of them). */
  minCoverage: number;
  /** Every content word the texts do not share must be filler ("user", "really", "now"). */
  strictWords?: boolean | undefined;
  /** Stored memories compared with each new one (the best keyword matches). */
  candidates: number;
}

/** What a text is compared by: stemmed content words, numbers, negation. */
export interface TextSignature {
  words: ReadonlySet<string>;
  /** The content words in the order they appear (for who-does-what: "I owe my brother" / "my brother owes me"). */
  order: readonly string[];
  numbers: string;
  negated: boolean;
  /** Speaks of the past ("was", "had", "used to"): "was a teacher" is not "is a teacher". */
  past: boolean;
}

/**
 * Words that add no fact of their own: who is speaking ("user"), hedges and intensifiers. Two texts
 * whose content words differ by anything else — "used to", "wife", "back" — state different facts.
 */
const FILLER = new Set(
  (
    'user users person really actually currently now still also just think guess probably definitely truly ' +
    'quite very pretty always usually generally basically honestly am re ve ll'
  )
    .split(' ')
    .map((word) => stemmer(word)),
);

/** Whether every content word the two texts do not share is filler. */
export function differOnlyByFiller(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const word of a) if (!b.has(word) && !FILLER.has(word)) return false;
  for (const word of b) if (!a.has(word) && !FILLER.has(word)) return false;
  return true;
}

const PAST = /\b(?:was|were|had|did|used to|formerly|ago)\b/u;

/** Whether the words both texts contain appear in the same order in each. */
export function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  const inB = new Set(b);
  const inA = new Set(a);
  const sharedA = [...new Set(a.filter((word) => inB.has(word)))];
  const sharedB = [...new Set(b.filter((word) => inA.has(word)))];
  return sharedA.every((word, i) => word === sharedB[i]);
}

const NEGATION = /\b(?:no|not|never|none|nobody|nothing|neither|nor|without|cannot)\b|n['’]t\b/u;

export function signature(text: string): TextSignature {
  const all = words(text);
  const order: string[] = [];
  const numbers: string[] = [];
  for (const word of all) {
    if (/^\p{N}+$/u.test(word)) numbers.push(word);
    else if (!isStopWord(word) && word.length > 1) order.push(stemmer(word));
  }
  const lower = text.toLowerCase();
  return {
    words: new Set(order),
    order,
    numbers: numbers.sort().join(' '),
    negated: NEGATION.test(lower),
    past: PAST.test(lower),
  };
}

function sharedCount(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  return shared;
}

/** |A ∩ B| / |A ∪ B|; two empty sets overlap fully. */
export function overlap(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const shared = sharedCount(a, b);
  return shared / (a.size + b.size - shared);
}

/** |A ∩ B| / min(|A|, |B|): how much of the shorter text the longer one contains. */
export function coverage(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  const smaller = Math.min(a.size, b.size);
  return smaller === 0 ? (a.size === b.size ? 1 : 0) : sharedCount(a, b) / smaller;
}

export interface Comparison {
  similarity: number;
  overlap: number;
  coverage: number;
  match: boolean;
}

export interface Comparable {
  signature: TextSignature;
  vector: Float32Array;
}

export function compare(a: Comparable, b: Comparable, options: NearDuplicateOptions): Comparison {
  const similarity = cosine(a.vector, b.vector);
  const shared = overlap(a.signature.words, b.signature.words);
  const covered = coverage(a.signature.words, b.signature.words);
  const match =
    similarity >= options.minSimilarity &&
    shared >= options.minOverlap &&
    covered >= options.minCoverage &&
    (!options.strictWords ||
      (differOnlyByFiller(a.signature.words, b.signature.words) &&
        sameOrder(a.signature.order, b.signature.order) &&
        a.signature.past === b.signature.past)) &&
    a.signature.numbers === b.signature.numbers &&
    a.signature.negated === b.signature.negated;
  return { similarity, overlap: shared, coverage: covered, match };
}

/** The merged memory: `target` seen again — newer `updatedAt`, the union of both tag lists. */
export function mergedInto(target: Memory, incomingTags: readonly string[], at: string): Memory {
  const tags = [...target.tags];
  for (const tag of incomingTags) if (!tags.includes(tag)) tags.push(tag);
  return { ...target, tags, updatedAt: at > target.updatedAt ? at : target.updatedAt };
}

export const mergeReason = (content: string, comparison: Comparison): string =>
  `near-duplicate added (similarity ${comparison.similarity.toFixed(3)}, word overlap ${comparison.overlap.toFixed(2)}): ${JSON.stringify(content.length > 200 ? `${content.slice(0, 200)}…` : content)}`;
