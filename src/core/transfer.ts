import { z } from 'zod';
import { v7 as uuidv7 } from 'uuid';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import { contentHash, newId } from './ids.js';
import type { Actor, MemoryService } from './memory-service.js';
import { addMemorySchema, historyEntrySchema, memorySchema } from './schemas.js';
import type { HistoryEntry, Memory, MemoryRecord } from './types.js';

/**
 * JSONL export/import. One line per memory — `{"type":"memory","memory":{…},"embedding":{"model","vector"}}`
 * (vector = base64 of little-endian float32) — followed by its history lines
 * `{"type":"history","entry":{…}}`. Import is idempotent: content already present for the user is
 * skipped as a duplicate; vectors are reused when they come from the store's model.
 */

const lineSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('memory'),
    memory: memorySchema.partial().extend({ content: z.string() }).passthrough(),
    embedding: z.object({ model: z.string(), vector: z.string() }).optional(),
  }),
  z.object({ type: z.literal('history'), entry: historyEntrySchema }),
]);

export async function* exportUser(service: MemoryService, userId: string): AsyncGenerator<string> {
  const model = service.embedder.model;
  for await (const { memory, vector } of service.store.scan(userId)) {
    const embedding = { model, vector: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') };
    yield `${JSON.stringify({ type: 'memory', memory, embedding })}\n`;
    for (const entry of await service.store.history(userId, memory.id)) {
      yield `${JSON.stringify({ type: 'history', entry })}\n`;
    }
  }
}

export interface ImportReport {
  imported: number;
  duplicates: number;
  history: number;
  errors: { line: number; message: string }[];
}

const BATCH = 256;

/** Imports JSONL lines into one user's memories. Bad lines are reported by number; good ones still land. */
export async function importUser(
  service: MemoryService,
  userId: string,
  lines: AsyncIterable<string> | Iterable<string>,
  actor: Actor,
  onProgress?: (report: ImportReport) => void,
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, duplicates: 0, history: 0, errors: [] };
  const ids = new Map<string, string>(); // exported id -> id in this store
  let pending: { memory: Memory; vector: Float32Array | null }[] = [];
  let pendingHistory: HistoryEntry[] = [];
  const seen = new Set<string>();

  const flush = async () => {
    await flushBatch(service.store, service.embedder, pending, pendingHistory, actor);
    report.imported += pending.length;
    report.history += pendingHistory.length;
    pending = [];
    pendingHistory = [];
    onProgress?.(report);
  };

  let number = 0;
  for await (const raw of lines) {
    number++;
    const text = raw.trim();
    if (text === '') continue;
    let line: z.infer<typeof lineSchema>;
    try {
      const parsed = lineSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid line');
      line = parsed.data;
    } catch (error) {
      report.errors.push({ line: number, message: (error as Error).message });
      continue;
    }
    if (line.type === 'history') {
      const mapped = ids.get(line.entry.memoryId);
      if (mapped) pendingHistory.push(rehomeEntry(line.entry, mapped, userId));
      continue;
    }
    const result = addMemorySchema.omit({ embedding: true }).safeParse({
      content: line.memory.content,
      category: line.memory.category,
      tags: line.memory.tags,
      metadata: line.memory.metadata,
      agentId: line.memory.agentId ?? undefined,
      sessionId: line.memory.sessionId ?? undefined,
      eventAt: line.memory.eventAt ?? undefined,
      expiresAt: line.memory.expiresAt ?? undefined,
      pinned: line.memory.pinned,
    });
    if (!result.success) {
      const issue = result.error.issues[0];
      report.errors.push({ line: number, message: `${issue?.path.join('.')}: ${issue?.message}` });
      continue;
    }
    const hash = contentHash(result.data.content);
    if (seen.has(hash) || (await service.store.findByHash(userId, hash))) {
      report.duplicates++;
      continue;
    }
    seen.add(hash);
    const createdAt = validDate(line.memory.createdAt) ?? service.now();
    const id = uuidv7({ msecs: Date.parse(createdAt) });
    if (line.memory.id) ids.set(line.memory.id, id);
    const memory: Memory = {
      id,
      userId,
      agentId: result.data.agentId ?? null,
      sessionId: result.data.sessionId ?? null,
      content: result.data.content,
      category: result.data.category ?? 'general',
      tags: result.data.tags ?? [],
      metadata: result.data.metadata ?? {},
      createdAt,
      updatedAt: validDate(line.memory.updatedAt) ?? createdAt,
      eventAt: result.data.eventAt ?? null,
      expiresAt: result.data.expiresAt ?? null,
      pinned: result.data.pinned ?? false,
      source: 'import',
      hash,
      supersededBy: null,
      validTo: null,
    };
    const vector =
      line.embedding?.model === service.embedder.model ? decodeVector(line.embedding.vector, service.embedder.dimension) : null;
    // Flush before a new memory rather than after, so a memory's history lines land in its batch.
    if (pending.length >= BATCH) await flush();
    pending.push({ memory, vector });
  }
  await flush();
  return report;
}

async function flushBatch(
  store: MemoryStore,
  embedder: Embedder,
  pending: { memory: Memory; vector: Float32Array | null }[],
  history: HistoryEntry[],
  actor: Actor,
): Promise<void> {
  if (pending.length === 0) return;
  const missing = pending.filter((item) => item.vector === null);
  const vectors = await embedder.embed(missing.map((item) => item.memory.content));
  missing.forEach((item, index) => {
    item.vector = vectors[index] as Float32Array;
  });
  const records: MemoryRecord[] = pending.map(({ memory, vector }) => ({ memory, vector: vector as Float32Array }));
  const withHistory = new Set(history.map((entry) => entry.memoryId));
  const added: HistoryEntry[] = pending
    .filter(({ memory }) => !withHistory.has(memory.id))
    .map(({ memory }) => ({
      id: newId(),
      memoryId: memory.id,
      userId: memory.userId,
      event: 'add',
      before: null,
      after: memory,
      actor: actor.name,
      at: memory.createdAt,
      reason: 'import',
    }));
  await store.insert(records, [...history, ...added]);
}

function rehomeEntry(entry: z.infer<typeof historyEntrySchema>, memoryId: string, userId: string): HistoryEntry {
  const rehome = (memory: z.infer<typeof memorySchema> | null): Memory | null =>
    memory === null ? null : ({ ...memory, id: memoryId, userId } as Memory);
  return { ...entry, id: newId(), memoryId, userId, before: rehome(entry.before), after: rehome(entry.after) };
}

function validDate(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function decodeVector(base64: string, dimension: number): Float32Array | null {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.byteLength !== dimension * 4) return null;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const vector = new Float32Array(copy.buffer);
  return vector.every(Number.isFinite) ? vector : null;
}

/** Re-embeds every memory with the service's embedder, then records the new model in the store. */
export async function reindex(
  store: MemoryStore,
  embedder: Embedder,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const { memories: total } = await store.stats();
  let done = 0;
  let batch: { userId: string; id: string; content: string }[] = [];
  const flush = async () => {
    const vectors = await embedder.embed(batch.map((item) => item.content));
    await store.setVectors(batch.map((item, index) => ({ userId: item.userId, id: item.id, vector: vectors[index] as Float32Array })));
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
