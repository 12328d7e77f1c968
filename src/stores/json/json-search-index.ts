import type { EmbeddingInfo, KeywordHit, StoreFilter, VectorHit } from '../../core/types.js';
import type { SearchIndex } from '../store.js';
import { type JsonData, visible } from './json-data.js';
import { newStoreFile } from './json-format.js';
import { keywordHits, vectorHits } from './json-search.js';

/**
 * The JSON store's search (`SearchIndex`): substring/keyword matching and brute-force cosine over
 * the user's memories (json-search.ts); the embedding model is recorded in the store file.
 */
export class JsonSearchIndex implements SearchIndex {
  readonly #data: JsonData;

  constructor(data: JsonData) {
    this.#data = data;
  }

  async keywordSearch(userId: string, terms: string[], filter: StoreFilter, limit: number): Promise<KeywordHit[]> {
    return this.#data.read(userId, (snapshot) => keywordHits(visible(snapshot, filter), terms, limit));
  }

  async vectorSearch(userId: string, vector: Float32Array, filter: StoreFilter, limit: number): Promise<VectorHit[]> {
    return this.#data.read(userId, (snapshot) =>
      vectorHits(visible(snapshot, filter), snapshot.data.vectors, vector, limit),
    );
  }

  async vectorsOf(userId: string, ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    return this.#data.read(userId, (snapshot) => {
      const found = new Map<string, Float32Array>();
      for (const id of ids) {
        const vector = snapshot.data.vectors.get(id);
        if (vector) found.set(id, Float32Array.from(vector));
      }
      return found;
    });
  }

  async setVectors(entries: { userId: string; id: string; vector: Float32Array }[]): Promise<void> {
    const byUser = new Map<string, { id: string; vector: Float32Array }[]>();
    for (const entry of entries) {
      this.#data.layout.userDir(entry.userId);
      byUser.set(entry.userId, [...(byUser.get(entry.userId) ?? []), entry]);
    }
    for (const [userId, updates] of byUser) {
      await this.#data.mutate(userId, (data) => {
        // A memory deleted while a reindex runs is skipped rather than resurrected.
        const known = updates.filter(({ id }) => data.memories.has(id));
        for (const { id, vector } of known) data.vectors.set(id, Float32Array.from(vector));
        return { result: undefined, changed: known.length > 0 };
      });
    }
  }

  async getEmbeddingInfo(): Promise<EmbeddingInfo | null> {
    return this.#data.track(async () => {
      const info = (await this.#data.readStoreFile())?.embedding;
      return info ? { model: info.model, dimension: info.dimension } : null;
    });
  }

  async setEmbeddingInfo(info: EmbeddingInfo): Promise<void> {
    return this.#data.track(() =>
      this.#data.locks.run(this.#data.layout.storeLock, async (beforeCommit) => {
        const current = (await this.#data.readStoreFile()) ?? newStoreFile();
        const next = { ...current, embedding: { model: info.model, dimension: info.dimension } };
        await this.#data.writeStoreFile(next, beforeCommit);
      }),
    );
  }
}
