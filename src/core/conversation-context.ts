/**
 * Conversation context in ranking. A memory added from a conversation often only makes sense with
 * the turns around it: the question a reply answers, the name an "it" refers to. Memories that
 * share a `sessionId` form a conversation, in the order they were added (`createdAt`, then id).
 * In hybrid search each of the best-fused memories lends a share of its score to its neighbours in
 * that order — more to the turns that follow it (its answers) than to those before it — so a turn
 * whose own words miss the query rises when the turns around it match.
 */
import type { RankedId as Ranked } from './ranking.js';
import type { Memory } from './types.js';

/** A memory's neighbours in its session, nearest first. */
export interface Neighbours {
  before: string[];
  after: string[];
}

export interface ContextOptions {
  /** Neighbours on each side that receive a share (0 turns context off). */
  window: number;
  /** Share of a memory's score lent to each following memory, divided by the distance. */
  following: number;
  /** Share lent to each preceding memory, divided by the distance. */
  preceding: number;
  /** How many of the best-fused memories lend (at least the result limit). */
  sources: number;
}

/** Conversation order: creation time, then id (UUIDv7 ids keep the order within a millisecond). */
export function conversationOrder(a: Memory, b: Memory): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Neighbours of `ids` among `memories` (already narrowed to what the caller may see): same
 * session, up to `window` on each side in conversation order. Memories without a session, and
 * ids not among `memories`, have none. The reference semantics for every store.
 */
export function neighboursAmong(
  memories: readonly Memory[],
  ids: readonly string[],
  window: number,
): Map<string, Neighbours> {
  const wanted = new Set(ids);
  const sessions = new Map<string, Memory[]>();
  for (const memory of memories) {
    if (memory.sessionId === null) continue;
    const list = sessions.get(memory.sessionId);
    if (list) list.push(memory);
    else sessions.set(memory.sessionId, [memory]);
  }
  const result = new Map<string, Neighbours>();
  for (const list of sessions.values()) {
    if (!list.some((memory) => wanted.has(memory.id))) continue;
    list.sort(conversationOrder);
    list.forEach((memory, index) => {
      if (!wanted.has(memory.id)) return;
      const before = list.slice(Math.max(0, index - window), index).reverse();
      const after = list.slice(index + 1, index + 1 + window);
      result.set(memory.id, { before: before.map((m) => m.id), after: after.map((m) => m.id) });
    });
  }
  return result;
}

/** Most contributors named in one explanation. */
const MAX_FROM = 4;

/**
 * Adds each source's lent share to its neighbours (creating entries for neighbours no signal
 * found) and re-sorts. `ranked` is best first; the first `options.sources` lend, from their own
 * scores before any lending. Ties keep the previous order.
 */
export function spreadContext(
  ranked: readonly Ranked[],
  neighbours: ReadonlyMap<string, Neighbours>,
  options: ContextOptions,
  fresh: (id: string) => Ranked,
): Ranked[] {
  const byId = new Map(ranked.map((item) => [item.id, item]));
  const order = new Map(ranked.map((item, index) => [item.id, index]));
  const lend = (to: string, amount: number, from: string, offset: number) => {
    if (amount <= 0) return;
    let item = byId.get(to);
    if (!item) {
      item = fresh(to);
      byId.set(to, item);
      order.set(to, Number.POSITIVE_INFINITY);
    }
    item.score += amount;
    item.explanation.context ??= { boost: 0, from: [] };
    const context = item.explanation.context;
    context.boost += amount;
    if (context.from.length < MAX_FROM) context.from.push({ id: from, offset });
  };
  const sources = ranked.slice(0, options.sources).map((item) => ({ id: item.id, score: item.score }));
  for (const source of sources) {
    const around = neighbours.get(source.id);
    if (!around) continue;
    around.after.forEach((id, i) => {
      lend(id, (options.following * source.score) / (i + 1), source.id, -(i + 1));
    });
    around.before.forEach((id, i) => {
      lend(id, (options.preceding * source.score) / (i + 1), source.id, i + 1);
    });
  }
  return [...byId.values()].sort(
    (a, b) =>
      b.score - a.score ||
      (order.get(a.id) as number) - (order.get(b.id) as number) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
