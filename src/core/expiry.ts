/**
 * Reclaiming expired memories. They are hidden from every view the moment `expiresAt` passes
 * (scope.ts's filter); the sweeper (sweeper.ts) deletes them later, each with a `delete` history
 * entry by the sweeper that says when it expired.
 */
import type { MemoryStore } from '../stores/store.js';
import { type Actor, historyEntry } from './history.js';

export interface ExpiryTarget {
  store: MemoryStore;
  now(): string;
  /** Runs `work` under the user's write lock. */
  locked<T>(userId: string, work: () => Promise<T>): Promise<T>;
}

const SWEEPER: Actor = { name: 'sweeper', source: 'api' };

/** Deletes expired memories, `batch` at a time, until none is due; returns how many went. */
export async function sweepExpired(target: ExpiryTarget, batch: number): Promise<number> {
  const { store } = target;
  let swept = 0;
  for (;;) {
    const now = target.now();
    const due = await store.expired(now, batch);
    let round = 0;
    for (const { userId, id } of due) {
      const gone = await target.locked(userId, async () => {
        const memory = await store.get(userId, id);
        // Checked again under the lock: it may have been changed or deleted since it was listed.
        if (!memory || memory.expiresAt === null || memory.expiresAt > now) return false;
        const entry = {
          ...historyEntry('delete', memory, null, SWEEPER, now),
          reason: `expired at ${memory.expiresAt}`,
        };
        return store.delete(userId, id, entry);
      });
      if (gone) round++;
    }
    swept += round;
    if (due.length < batch || round === 0) return swept;
  }
}
