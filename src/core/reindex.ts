import type { Embedder } from '../embed/embedder.js';
import type { MemoryRecords, SearchIndex, StoreAdmin } from '../stores/store.js';
import { EngramError } from './errors.js';
import type { EmbeddingInfo } from './types.js';

/**
 * Re-embedding a whole store with another model. While it runs the store's embedding info reads
 * `reindexing:<new model>`: no embedder matches that, so a server (re)started half-way refuses to
 * open a store whose vectors come from two models, and tells the user to finish `engram reindex`.
 */

const MARKER = 'reindexing:';

/** The model an unfinished reindex was moving to, or null when the store's info is a plain model. */
export function unfinishedReindex(info: EmbeddingInfo): string | null {
  return info.model.startsWith(MARKER) ? info.model.slice(MARKER.length) : null;
}

/**
 * Records `embedder`'s model in a new store, or checks that a store's vectors come from it. Refuses
 * a store an unfinished reindex left with vectors from two models.
 */
export async function checkEmbeddingInfo(store: SearchIndex, embedder: Embedder): Promise<void> {
  const info = await store.getEmbeddingInfo();
  const mine = { model: embedder.model, dimension: embedder.dimension };
  if (info === null) {
    await store.setEmbeddingInfo(mine);
    return;
  }
  const target = unfinishedReindex(info);
  if (target !== null) {
    throw new EngramError(
      'embedding_mismatch',
      `a reindex onto ${target} (${info.dimension}-d) did not finish, so the store holds vectors from two models; ` +
        `run \`engram reindex\` again to finish it (it re-embeds every memory with the configured embedder, now ` +
        `${mine.model})`,
      { details: { store: info, embedder: mine, unfinishedReindex: target } },
    );
  }
  if (info.model !== mine.model || info.dimension !== mine.dimension) {
    throw new EngramError(
      'embedding_mismatch',
      `the store holds vectors from ${info.model} (${info.dimension}-d) but the embedder is ${mine.model} ` +
        `(${mine.dimension}-d); run \`engram reindex\` to re-embed, or configure the original embedder`,
      { details: { store: info, embedder: mine } },
    );
  }
}

/** Re-embeds every memory with `embedder`, then records its model in the store. Rerun it to finish an interrupted one. */
export async function reindex(
  store: SearchIndex & MemoryRecords & Pick<StoreAdmin, 'stats'>,
  embedder: Embedder,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  await store.setEmbeddingInfo({ model: `${MARKER}${embedder.model}`, dimension: embedder.dimension });
  const { memories: total } = await store.stats();
  let done = 0;
  let batch: { userId: string; id: string; content: string }[] = [];
  const flush = async () => {
    const vectors = await embedder.embed(batch.map((item) => item.content));
    await store.setVectors(
      batch.map((item, index) => ({ userId: item.userId, id: item.id, vector: vectors[index] as Float32Array })),
    );
    done += batch.length;
    batch = [];
    onProgress?.(done, total);
  };
  for await (const { memory } of store.scan()) {
    batch.push({ userId: memory.userId, id: memory.id, content: memory.content });
    if (batch.length >= 128) await flush();
  }
  if (batch.length > 0) await flush();
  await store.setEmbeddingInfo({ model: embedder.model, dimension: embedder.dimension });
  return done;
}
