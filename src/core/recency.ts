/**
 * Optional recency decay, the last ranking stage: a memory's score is multiplied by
 * `1 − w + w × 0.5^(age / halfLife)`, so a memory one half-life old keeps `1 − w/2` of its score
 * and none falls below `1 − w`. Age is measured from `eventAt` (when the remembered thing
 * happened), else `createdAt`, to the query's `now` (the `as_of` instant for point-in-time
 * searches). Pinned memories do not decay. Off by default: it has not been measured on LoCoMo yet,
 * and the issue asks for that before it may be turned on by default.
 */
import type { SearchResult } from './types.js';

export interface RecencyOptions {
  /** Days after which the decaying part of the score halves; 0 = off. */
  halfLifeDays: number;
  /** Share of the score subject to decay, 0–1. */
  weight: number;
}

const DAY_MS = 86_400_000;

/** How many of the best results decay re-orders (the rest cannot reach the top `limit`). */
export const recencyPool = (limit: number): number => Math.max(limit * 3, 30);

export function recencyFactor(ageDays: number, options: RecencyOptions): number {
  if (options.halfLifeDays <= 0) return 1;
  const age = Math.max(0, ageDays);
  return 1 - options.weight + options.weight * 0.5 ** (age / options.halfLifeDays);
}

/** The results re-scored and re-sorted (stable for ties). */
export function decayed<R extends Omit<SearchResult, 'relevant'>>(
  results: R[],
  options: RecencyOptions,
  now: string,
): R[] {
  const nowMs = Date.parse(now);
  return results
    .map((result, index) => {
      const { memory } = result;
      const ageDays = (nowMs - Date.parse(memory.eventAt ?? memory.createdAt)) / DAY_MS;
      const factor = memory.pinned ? 1 : recencyFactor(ageDays, options);
      return {
        index,
        result: {
          ...result,
          score: result.score * factor,
          explanation: { ...result.explanation, recency: { factor, ageDays: Math.max(0, ageDays) } },
        },
      };
    })
    .sort((a, b) => b.result.score - a.result.score || a.index - b.index)
    .map(({ result }) => result);
}
