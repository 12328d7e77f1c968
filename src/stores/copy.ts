/**
 * Copies one store into another (`engram migrate-store`): every memory with its vector and its
 * history, the history of deleted memories, and the embedding model record. Resumable: memories
 * already in the target (by id) are skipped, and a memory is written together with its history in
 * one atomic insert, so an interrupted copy can simply be run again; so is a deleted memory's
 * history (skipped when the target has any of it). Verifies at the end that every source memory
 * is in the target.
 */
import { EngramError } from '../core/errors.js';
import type { HistoryEntry, MemoryRecord } from '../core/types.js';
import type { MemoryStore } from './store.js';

export interface CopyReport {
  /** Memories in the source. */
  memories: number;
  /** Copied now (the rest were in the target already). */
  copied: number;
  /** History entries copied with them. */
  history: number;
  /** Deleted memories whose history was copied now. */
  deleted: number;
  /** Their history entries. */
  deletedHistory: number;
}

const BATCH = 200;
/** Memories still to copy from which the target's deferrable indexes are dropped and rebuilt at the end. */
const BULK_LOAD = 5_000;

export interface CopyOptions {
  /** Memories looked at so far, of the source's total. */
  onProgress?: (done: number, total: number) => void;
  /** A step that shows no progress of its own starts (e.g. rebuilding an index). */
  onStep?: (step: string) => void;
}

export async function copyStore(
  source: MemoryStore,
  target: MemoryStore,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const { onProgress = () => undefined, onStep = () => undefined } = options;
  const [info, targetInfo] = await Promise.all([source.getEmbeddingInfo(), target.getEmbeddingInfo()]);
  if (info && targetInfo && (info.model !== targetInfo.model || info.dimension !== targetInfo.dimension)) {
    throw new EngramError(
      'embedding_mismatch',
      `the target holds ${targetInfo.model} (${targetInfo.dimension}-d) vectors, the source ${info.model} (${info.dimension}-d)`,
    );
  }
  if (info && !targetInfo) await target.setEmbeddingInfo(info);

  // Dropping indexes pays off for a bulk load only; a resumed or small copy keeps them.
  const [total, present] = await Promise.all([source.stats(), target.stats()]);
  const bulk = total.memories - present.memories >= BULK_LOAD;
  const rebuildIndexes = bulk ? await target.deferIndexes?.() : undefined;
  try {
    return await copyAll(source, target, onProgress);
  } finally {
    if (rebuildIndexes) {
      onStep('building the target’s indexes');
      await rebuildIndexes();
    }
  }
}

async function copyAll(
  source: MemoryStore,
  target: MemoryStore,
  onProgress: (done: number, total: number) => void,
): Promise<CopyReport> {
  const total = (await source.stats()).memories;
  const report: CopyReport = { memories: total, copied: 0, history: 0, deleted: 0, deletedHistory: 0 };
  let done = 0;
  onProgress(0, total);
  await inBatches(source, async (userId, records) => {
    const present = new Set(
      (
        await target.getMany(
          userId,
          records.map((r) => r.memory.id),
        )
      ).map((m) => m.id),
    );
    const missing = records.filter((record) => !present.has(record.memory.id));
    const byMemory = await source.historyMany(
      userId,
      missing.map((record) => record.memory.id),
    );
    const history = missing.flatMap((record) => byMemory.get(record.memory.id) ?? []);
    if (missing.length > 0) await target.insert(missing, history);
    report.copied += missing.length;
    report.history += history.length;
    done += records.length;
    onProgress(done, total);
  });

  await copyDeletedHistory(source, target, report);

  let verified = 0;
  await inBatches(source, async (userId, records) => {
    const found = await target.getMany(
      userId,
      records.map((r) => r.memory.id),
    );
    if (found.length !== records.length) {
      throw new EngramError(
        'internal',
        `verification failed: ${records.length - found.length} of user ${userId}'s memories are missing in the target`,
      );
    }
    verified += records.length;
  });
  if (verified !== total) {
    throw new EngramError(
      'internal',
      `verification failed: the source changed during the copy (${verified} ≠ ${total})`,
    );
  }
  return report;
}

/** The history of memories the source no longer holds (deleted ones): kept, as the source keeps it. */
async function copyDeletedHistory(source: MemoryStore, target: MemoryStore, report: CopyReport): Promise<void> {
  let userId = '';
  let groups = new Map<string, HistoryEntry[]>();
  const flush = async () => {
    if (groups.size === 0) return;
    const live = new Set((await source.getMany(userId, [...groups.keys()])).map((memory) => memory.id));
    const deleted: HistoryEntry[] = [];
    for (const [memoryId, entries] of groups) {
      if (live.has(memoryId) || (await target.history(userId, memoryId)).length > 0) continue;
      deleted.push(...entries);
      report.deleted++;
    }
    if (deleted.length > 0) await target.insert([], deleted);
    report.deletedHistory += deleted.length;
    groups = new Map();
  };
  for await (const entry of source.scanHistory()) {
    if (entry.userId !== userId || (groups.size >= BATCH && !groups.has(entry.memoryId))) {
      await flush();
      userId = entry.userId;
    }
    const list = groups.get(entry.memoryId) ?? [];
    list.push(entry);
    groups.set(entry.memoryId, list);
  }
  await flush();
}

/** The source's records in batches of one user each (scan order is by id, across users). */
async function inBatches(
  source: MemoryStore,
  work: (userId: string, records: MemoryRecord[]) => Promise<void>,
): Promise<void> {
  const pending = new Map<string, MemoryRecord[]>();
  for await (const record of source.scan()) {
    const list = pending.get(record.memory.userId) ?? [];
    list.push(record);
    pending.set(record.memory.userId, list);
    if (list.length >= BATCH) {
      pending.delete(record.memory.userId);
      await work(record.memory.userId, list);
    }
  }
  for (const [userId, list] of pending) await work(userId, list);
}
