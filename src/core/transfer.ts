import { z } from 'zod';
import type { Actor, ImportItem, MemoryService } from './memory-service.js';
import { addMemorySchema, historyEntrySchema, memorySchema } from './schemas.js';
import type { MemoryRecord } from './types.js';

/**
 * JSONL export/import. One line per memory — `{"type":"memory","memory":{…},"embedding":{"model","vector"}}`
 * (vector = base64 of little-endian float32) — followed by its history lines
 * `{"type":"history","entry":{…}}`. This module only reads and writes the format: import hands
 * batches to `MemoryService.importBatch`, which owns dedupe (re-imports are idempotent), vectors
 * and how carried history is recorded.
 */

const lineSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('memory'),
    memory: memorySchema.partial().extend({ content: z.string() }).passthrough(),
    embedding: z.object({ model: z.string(), vector: z.string() }).optional(),
  }),
  z.object({ type: z.literal('history'), entry: historyEntrySchema }),
]);

/** The memory fields an import line may set (the rest are the service's to decide). */
const importFieldsSchema = addMemorySchema.omit({ embedding: true });

export async function* exportUser(service: MemoryService, userId: string): AsyncGenerator<string> {
  const model = service.embedder.model;
  let batch: MemoryRecord[] = [];
  const flush = async function* () {
    // History for a batch of memories in one store call.
    const history = await service.store.historyMany(
      userId,
      batch.map((record) => record.memory.id),
    );
    for (const { memory, vector } of batch) {
      const embedding = {
        model,
        vector: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'),
      };
      yield `${JSON.stringify({ type: 'memory', memory, embedding })}\n`;
      for (const entry of history.get(memory.id) ?? []) yield `${JSON.stringify({ type: 'history', entry })}\n`;
    }
    batch = [];
  };
  for await (const record of service.store.scan(userId)) {
    batch.push(record);
    if (batch.length >= 200) yield* flush();
  }
  yield* flush();
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
  let pending: ImportItem[] = [];
  /** Exported id -> its item in the pending batch, for the history lines that follow it. */
  let byExportedId = new Map<string, ImportItem>();

  const flush = async () => {
    const { results, history } = await service.importBatch(userId, pending, actor);
    for (const result of results) {
      if (result.duplicate) report.duplicates++;
      else report.imported++;
    }
    report.history += history;
    pending = [];
    byExportedId = new Map();
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
      // History of a memory this file does not contain (or not just before) is not imported.
      byExportedId.get(line.entry.memoryId)?.history?.push(line.entry);
      continue;
    }
    const fields = importFieldsSchema.safeParse({
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
    if (!fields.success) {
      const issue = fields.error.issues[0];
      report.errors.push({ line: number, message: `${issue?.path.join('.')}: ${issue?.message}` });
      continue;
    }
    // Flush before a new memory rather than after, so a memory's history lines land in its batch.
    if (pending.length >= BATCH) await flush();
    const item: ImportItem = {
      input: fields.data,
      createdAt: line.memory.createdAt,
      updatedAt: line.memory.updatedAt,
      embedding: line.embedding ? decodeEmbedding(line.embedding) : null,
      history: [],
    };
    pending.push(item);
    if (line.memory.id) byExportedId.set(line.memory.id, item);
  }
  await flush();
  return report;
}

/** The vector of an export line (base64 of little-endian float32), or null when it is not one. */
function decodeEmbedding(embedding: { model: string; vector: string }): ImportItem['embedding'] {
  const bytes = Buffer.from(embedding.vector, 'base64');
  if (bytes.byteLength === 0 || bytes.byteLength % 4 !== 0) return null;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { model: embedding.model, vector: new Float32Array(copy.buffer) };
}
