/** Retrieval-quality metrics for the evaluation. Pure functions, no I/O. */

/**
 * Evidence recall at k: the fraction of the distinct evidence ids that appear among the first
 * `k` positions of `retrieved`. A retrieved id listed twice counts once (and still uses up both
 * positions: k is about what a caller is shown); k larger than the list just uses the whole list.
 * Evidence must not be empty: recall is undefined there, so callers skip such questions.
 */
export function recallAtK(retrieved: readonly string[], evidence: readonly string[], k: number): number {
  const wanted = new Set(evidence);
  if (wanted.size === 0) throw new RangeError('recallAtK: evidence is empty (recall is undefined)');
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`recallAtK: k must be a positive integer, got ${k}`);
  const found = new Set<string>();
  for (const id of retrieved.slice(0, k)) if (wanted.has(id)) found.add(id);
  return found.size / wanted.size;
}

/** 1 when at least one evidence id is in the first k positions, else 0. */
export function hitAtK(retrieved: readonly string[], evidence: readonly string[], k: number): number {
  const wanted = new Set(evidence);
  if (wanted.size === 0) throw new RangeError('hitAtK: evidence is empty');
  return retrieved.slice(0, k).some((id) => wanted.has(id)) ? 1 : 0;
}

/** 1 / (position of the first evidence id), 0 when none is retrieved. */
export function reciprocalRank(retrieved: readonly string[], evidence: readonly string[]): number {
  const wanted = new Set(evidence);
  const index = retrieved.findIndex((id) => wanted.has(id));
  return index === -1 ? 0 : 1 / (index + 1);
}

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** One evaluated question: its category and any number of named scores (e.g. "R@5"). */
export interface ScoredItem {
  category: string | number;
  scores: Readonly<Record<string, number>>;
}

export interface Aggregate {
  count: number;
  /** Mean of each score name over the items that have it. */
  means: Record<string, number>;
}

export interface AggregateReport {
  overall: Aggregate;
  /** Keyed by String(category), in ascending category order. */
  byCategory: Record<string, Aggregate>;
}

function aggregateOf(items: readonly ScoredItem[]): Aggregate {
  const values = new Map<string, number[]>();
  for (const item of items) {
    for (const [name, value] of Object.entries(item.scores)) {
      const list = values.get(name);
      if (list) list.push(value);
      else values.set(name, [value]);
    }
  }
  const means: Record<string, number> = {};
  for (const [name, list] of values) means[name] = mean(list);
  return { count: items.length, means };
}

/** Mean of every score overall and per category (each question weighs the same). */
export function aggregateByCategory(items: readonly ScoredItem[]): AggregateReport {
  const groups = new Map<string, ScoredItem[]>();
  for (const item of items) {
    const key = String(item.category);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const keys = [...groups.keys()].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
  });
  const byCategory: Record<string, Aggregate> = {};
  for (const key of keys) byCategory[key] = aggregateOf(groups.get(key) as ScoredItem[]);
  return { overall: aggregateOf(items), byCategory };
}
