import { decodeCursor } from '../../core/filter.js';
import type { HistoryEntry, Page } from '../../core/types.js';
import { type DeletedOptions, deletionsPage, groupHistory, type MemoryHistory } from '../store.js';
import { byString, cloneEntry, type JsonData } from './json-data.js';

/**
 * The JSON store's history (`MemoryHistory`), kept in each user's file beside their memories.
 */
export class JsonHistory implements MemoryHistory {
  readonly #data: JsonData;

  constructor(data: JsonData) {
    this.#data = data;
  }

  async history(userId: string, memoryId: string): Promise<HistoryEntry[]> {
    return this.#data.read(userId, (snapshot) =>
      snapshot.data.history.filter((entry) => entry.memoryId === memoryId).map(cloneEntry),
    );
  }

  async historyMany(userId: string, memoryIds: string[]): Promise<Map<string, HistoryEntry[]>> {
    if (memoryIds.length === 0) return new Map();
    const wanted = new Set(memoryIds);
    return this.#data.read(userId, (snapshot) =>
      groupHistory(snapshot.data.history.filter((entry) => wanted.has(entry.memoryId)).map(cloneEntry)),
    );
  }

  async deleted(userId: string, options: DeletedOptions): Promise<Page<HistoryEntry>> {
    const before = options.cursor === undefined ? null : decodeCursor(options.cursor);
    return this.#data.read(userId, (snapshot) => {
      const { data } = snapshot;
      const page = deletionsPage(data.history, (id) => data.memories.has(id), before, Math.max(0, options.limit));
      return { ...page, items: page.items.map(cloneEntry) };
    });
  }

  async *scanHistory(): AsyncIterable<HistoryEntry> {
    const userIds = (await this.#data.track(() => this.#data.userIds())).sort(byString);
    for (const userId of userIds) {
      const entries = await this.#data.read(userId, (snapshot) => snapshot.data.history.map(cloneEntry));
      // A stable sort: each memory's entries keep the order they were written in.
      entries.sort((a, b) => byString(a.memoryId, b.memoryId));
      yield* entries;
    }
  }
}
