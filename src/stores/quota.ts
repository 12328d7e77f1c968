import { EngramError } from '../core/errors.js';
import type { MemoryRecord } from '../core/types.js';
import type { MemoryStore, UserUsage } from './store.js';

/** Per-user limits (`ENGRAM_USER_MAX_MEMORIES`, `ENGRAM_USER_MAX_BYTES`); 0 turns a limit off. */
export interface UserLimits {
  /** Most current memories one user may hold. */
  maxMemories: number;
  /** Most UTF-8 bytes of content one user's current memories may hold. */
  maxBytes: number;
}

const bytesOf = (text: string): number => Buffer.byteLength(text);

/**
 * Wraps a store so that no write takes a user past their limits: `insert` (adds, imports,
 * restores, consolidation) and `update` (content that grows) check the user's usage first and
 * refuse with `quota_exceeded` (429), naming the limit. Writes of one user are serialised by the
 * service's per-user lock, so the check and the write cannot interleave with another write of the
 * same user in this process; two processes on one store may overshoot by a write at most.
 * Deleting memories makes room again. Without limits the store is returned as it is.
 */
export function withUserLimits(store: MemoryStore, limits: UserLimits): MemoryStore {
  if (limits.maxMemories <= 0 && limits.maxBytes <= 0) return store;

  const check = (userId: string, usage: UserUsage, adding: UserUsage): void => {
    const memories = usage.memories + adding.memories;
    if (limits.maxMemories > 0 && adding.memories > 0 && memories > limits.maxMemories) {
      throw new EngramError(
        'quota_exceeded',
        `user ${userId} holds ${usage.memories} memories and this write adds ${adding.memories}; ` +
          `the limit is ${limits.maxMemories} per user (ENGRAM_USER_MAX_MEMORIES): delete some first`,
        { details: { limit: 'limits.userMaxMemories', max: limits.maxMemories, current: usage.memories } },
      );
    }
    const bytes = usage.bytes + adding.bytes;
    if (limits.maxBytes > 0 && adding.bytes > 0 && bytes > limits.maxBytes) {
      throw new EngramError(
        'quota_exceeded',
        `user ${userId} stores ${usage.bytes} bytes of content and this write adds ${adding.bytes}; ` +
          `the limit is ${limits.maxBytes} per user (ENGRAM_USER_MAX_BYTES): delete some first`,
        { details: { limit: 'limits.userMaxBytes', max: limits.maxBytes, current: usage.bytes } },
      );
    }
  };

  const insert: MemoryStore['insert'] = async (records, history, changed, options) => {
    const byUser = new Map<string, MemoryRecord[]>();
    for (const record of records) {
      const mine = byUser.get(record.memory.userId);
      if (mine) mine.push(record);
      else byUser.set(record.memory.userId, [record]);
    }
    for (const [userId, mine] of byUser) {
      const adding = { memories: mine.length, bytes: mine.reduce((sum, r) => sum + bytesOf(r.memory.content), 0) };
      check(userId, await store.usage(userId), adding);
    }
    return store.insert(records, history, changed, options);
  };

  const update: MemoryStore['update'] = async (memory, vector, entry) => {
    const grows = bytesOf(memory.content) - bytesOf(entry.before?.content ?? '');
    if (grows > 0) check(memory.userId, await store.usage(memory.userId), { memories: 0, bytes: grows });
    return store.update(memory, vector, entry);
  };

  return new Proxy(store, {
    get(target, property) {
      if (property === 'insert') return insert;
      if (property === 'update') return update;
      const value = Reflect.get(target, property, target) as unknown;
      // Stores keep private fields: their methods must run on the store itself.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
