/**
 * Restoring a deleted memory: it comes back as it was just before its (last) deletion, with the
 * same id, its content re-embedded, and a `restore` history entry. Refused while the memory
 * exists, when its history is gone (a purged user), or when the same content is stored again
 * meanwhile (that memory is named, as for an update that would duplicate it).
 */
import type { Embedder } from '../embed/embedder.js';
import type { MemoryHistory, MemoryRecords } from '../stores/store.js';
import { EngramError, notFound } from './errors.js';
import { decodeCursor } from './filter.js';
import { type Actor, historyEntry } from './history.js';
import { type DeletedListInput, type DeletedMemory, deletedListSchema, parseInput } from './schemas.js';
import type { Memory, Page, StoreFilter } from './types.js';
import { assertNoClash } from './update.js';

export async function restoreDeleted(
  parts: { store: MemoryRecords & MemoryHistory; embedder: Embedder },
  request: { userId: string; id: string; actor: Actor; now: string; visible: StoreFilter },
): Promise<Memory> {
  const { store, embedder } = parts;
  const { userId, id, actor, now, visible } = request;
  if (await store.get(userId, id)) throw new EngramError('conflict', `memory ${id} is not deleted`);
  const deletion = (await store.history(userId, id)).findLast((entry) => entry.event === 'delete');
  if (!deletion?.before) throw notFound('deleted memory', id);
  const memory: Memory = { ...deletion.before, updatedAt: now };
  // The memory is absent now: "before" is its deleted self, so any visible copy of the content clashes.
  await assertNoClash(store, userId, { ...memory, hash: '' }, memory, visible);
  const [vector] = (await embedder.embed([memory.content], { scope: userId })) as [Float32Array];
  await store.insert([{ memory, vector }], [historyEntry('restore', null, memory, actor, now)]);
  return memory;
}

/**
 * What `restoreDeleted` can bring back: the user's deleted memories, most recently deleted first,
 * each as it was just before its last deletion.
 */
export async function listDeleted(
  store: MemoryHistory,
  userId: string,
  input: DeletedListInput,
): Promise<Page<DeletedMemory>> {
  const query = parseInput(deletedListSchema, input);
  if (query.cursor !== undefined) decodeCursor(query.cursor);
  const page = await store.deleted(userId, { limit: query.limit, cursor: query.cursor });
  const items = page.items.flatMap((entry) =>
    entry.before ? [{ memory: entry.before, deletedAt: entry.at, deletedBy: entry.actor }] : [],
  );
  return { items, nextCursor: page.nextCursor };
}
