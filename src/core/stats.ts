/**
 * A user's memories at a glance (`GET /v1/stats`, the web UI's overview): how many, per category,
 * and how many were added on each UTC day of a recent window — two store calls, not one per day.
 */
import type { MemoryRecords } from '../stores/store.js';
import type { CategoryCount, DayCount, StoreFilter } from './types.js';

const DAY_MS = 86_400_000;

export interface UserStats {
  /** Memories the filter lets through (by default: neither expired nor superseded). */
  memories: number;
  categories: CategoryCount[];
  /** Every UTC day of the window, oldest first, today last; days without adds count 0. */
  addedPerDay: DayCount[];
}

export async function userStats(
  store: MemoryRecords,
  userId: string,
  visible: StoreFilter,
  days: number,
): Promise<UserStats> {
  const now = new Date(visible.now);
  const first = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (days - 1) * DAY_MS;
  const [categories, counted] = await Promise.all([
    store.categories(userId, visible),
    store.addedPerDay(userId, { ...visible, createdAfter: new Date(first).toISOString() }),
  ]);
  const byDay = new Map(counted.map(({ day, count }) => [day, count]));
  const addedPerDay = Array.from({ length: days }, (_, i) => {
    const day = new Date(first + i * DAY_MS).toISOString().slice(0, 10);
    return { day, count: byDay.get(day) ?? 0 };
  });
  return { memories: categories.reduce((sum, { count }) => sum + count, 0), categories, addedPerDay };
}
