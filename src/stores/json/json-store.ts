import { dirname, join } from 'node:path';
import { ComposedStore } from '../composed-store.js';
import type { MemoryStore, StoreStats, UserSummary, UserUsage } from '../store.js';
import type { JsonStoreConfig } from './json-config.js';
import { byString, JsonData } from './json-data.js';
import { fileSize, removeDir, replaceFile } from './json-files.js';
import { JsonHistory } from './json-history.js';
import { JsonJobs } from './json-jobs.js';
import { JsonMemories } from './json-memories.js';
import { JsonSearchIndex } from './json-search-index.js';

/**
 * The `json` MemoryStore: one human-readable file per user, safe for several processes on one data dir.
 * Its roles live beside it — json-memories.ts, json-history.ts, json-search-index.ts, json-jobs.ts —
 * over the files of json-data.ts; the store-wide upkeep (`StoreAdmin`) is here.
 */
export class JsonStore extends ComposedStore implements MemoryStore {
  readonly name = 'json';
  readonly #data: JsonData;

  constructor(config: JsonStoreConfig) {
    const data = new JsonData(config);
    super({
      records: new JsonMemories(data),
      history: new JsonHistory(data),
      search: new JsonSearchIndex(data),
      jobs: new JsonJobs(data),
    });
    this.#data = data;
  }

  /** The directory holding the store's files (`<dataDir>/memory`). */
  get directory(): string {
    return this.#data.layout.root;
  }

  async init(): Promise<void> {
    return this.#data.init();
  }

  /** Waits for in-flight operations, then drops the cache. Calls after close fail until `init()`. */
  async close(): Promise<void> {
    return this.#data.close();
  }

  async probeWrite(): Promise<void> {
    return this.#data.track(() =>
      replaceFile(
        join(dirname(this.#data.layout.storeFile), '.ready-probe'),
        `${new Date().toISOString()}\n`,
        () => undefined,
      ).then(() => undefined),
    );
  }

  async purgeUser(userId: string): Promise<number> {
    const dir = this.#data.layout.userDir(userId);
    return this.#data.track(() =>
      this.#data.locks.run(this.#data.layout.userLock(userId), async () => {
        // Erasure must succeed even when the file is damaged; the count is then unknown (0).
        const count = await this.#data.files.read(userId).then(
          (snapshot) => snapshot.data.memories.size,
          () => 0,
        );
        await removeDir(dir, this.#data.layout.trashDir(), this.#data.layout.root);
        this.#data.files.forget(userId);
        await this.#data.mutateJobs((jobs) => {
          const kept = jobs.filter((job) => job.userId !== userId);
          return { result: undefined, changed: kept.length !== jobs.length, jobs: kept };
        });
        return count;
      }),
    );
  }

  async compact(): Promise<void> {
    // Nothing to do: every change writes the whole file anew and replaces the old one.
  }

  async stats(): Promise<StoreStats> {
    return this.#data.track(async () => {
      let memories = 0;
      let users = 0;
      let bytes = await fileSize(this.#data.layout.storeFile);
      for (const userId of await this.#data.userIds()) {
        const count = (await this.#data.files.read(userId)).data.memories.size;
        memories += count;
        if (count > 0) users++;
        bytes += await fileSize(this.#data.layout.userFile(userId));
      }
      return { memories, users, bytes };
    });
  }

  async usage(userId: string): Promise<UserUsage> {
    return this.#data.read(userId, (snapshot) => {
      let bytes = 0;
      for (const memory of snapshot.data.memories.values()) bytes += Buffer.byteLength(memory.content);
      return { memories: snapshot.data.memories.size, bytes };
    });
  }

  async users(): Promise<UserSummary[]> {
    return this.#data.track(async () => {
      const users: UserSummary[] = [];
      for (const userId of (await this.#data.userIds()).sort(byString)) {
        const memories = [...(await this.#data.files.read(userId)).data.memories.values()];
        if (memories.length === 0) continue;
        const lastAddedAt = memories.reduce(
          (latest, memory) => (memory.createdAt > latest ? memory.createdAt : latest),
          '',
        );
        users.push({ userId, memories: memories.length, lastAddedAt });
      }
      return users;
    });
  }
}
