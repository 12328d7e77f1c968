/**
 * Copies one store into another (`engram migrate-store`): every memory with its vector and its
 * history, and the embedding model record. Resumable: memories already in the target (by id) are
 * skipped, and a memory is written together with its history in one atomic insert, so an
 * interrupted copy can simply be run again. Verifies at the end that every source memory is in
 * the target.
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
}

const BATCH = 200;

export async function copyStore(
  source: MemoryStore,
  target: MemoryStore,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<CopyReport> {
  const [info, targetInfo] = await Promise.all([source.getEmbeddingInfo(), target.getEmbeddingInfo()]);
  if (info && targetInfo && (info.model !== targetInfo.model || info.dimension !== targetInfo.dimension)) {
    throw new EngramError(
      'embedding_mismatch',
      `the target holds ${targetInfo.model} (${targetInfo.dimension}-d) vectors, the source ${info.model} (${info.dimension}-d)`,
    );
  }
  if (info && !targetInfo) await target.setEmbeddingInfo(info);

  const total = (await source.stats()).memories;
  const report: CopyReport = { memories: total, copied: 0, history: 0 };
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
    const history: HistoryEntry[] = [];
    for (const record of missing) history.push(...(await source.history(userId, record.memory.id)));
    if (missing.length > 0) await target.insert(missing, history);
    report.copied += missing.length;
    report.history += history.length;
    done += records.length;
    onProgress(done, total);
  });

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
