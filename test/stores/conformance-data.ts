/**
 * Test data for the store conformance suite (conformance.ts, conformance-lifecycle.ts) and the
 * stores' own tests: deterministic, time-ordered ids and small 8-d vectors.
 */
import { v7 as uuidv7 } from 'uuid';
import { contentHash } from '../../src/core/ids.js';
import type { HistoryEntry, HistoryEvent, Memory, MemoryRecord, StoreFilter } from '../../src/core/types.js';
import type { MemoryStore } from '../../src/stores/store.js';

const BASE_MS = Date.UTC(2026, 0, 10);
const MINUTE = 60_000;
/** The instant against which expiry is judged in every filter of the suite. */
export const NOW = '2026-06-01T00:00:00.000Z';
export const DIMENSION = 8;

/** The id of the n-th test memory: UUIDv7 at BASE + n minutes, so a larger n is a newer id. */
export function idAt(n: number): string {
  return uuidv7({
    msecs: BASE_MS + n * MINUTE,
    random: Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i) & 0xff),
  });
}

export function timeAt(n: number): string {
  return new Date(BASE_MS + n * MINUTE).toISOString();
}

/** The n of an id made by `idAt(n)` (its UUIDv7 timestamp). */
export function minuteOf(id: string): number {
  return (Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16) - BASE_MS) / MINUTE;
}

/** A memory of user alice created at minute n; `fields` override anything (hash follows content). */
export function makeMemory(n: number, fields: Partial<Memory> = {}): Memory {
  const content = fields.content ?? `memory number ${n}`;
  return {
    id: idAt(n),
    userId: 'alice',
    agentId: null,
    sessionId: null,
    content,
    category: 'general',
    tags: [],
    metadata: {},
    createdAt: timeAt(n),
    updatedAt: timeAt(n),
    eventAt: null,
    expiresAt: null,
    pinned: false,
    source: 'api',
    hash: contentHash(content),
    supersededBy: null,
    validTo: null,
    accessCount: 0,
    lastAccessedAt: null,
    ...fields,
  };
}

/** An 8-d vector from leading values (the rest are zero). */
export function vec(...values: number[]): Float32Array {
  const vector = new Float32Array(DIMENSION);
  vector.set(values.slice(0, DIMENSION));
  return vector;
}

/** A distinct, deterministic, non-zero vector per n. */
export function vectorFor(n: number): Float32Array {
  return Float32Array.from({ length: DIMENSION }, (_, i) => Math.sin(n * 1.7 + i * 0.9) + 0.01);
}

export function historyEntry(event: HistoryEvent, before: Memory | null, after: Memory | null): HistoryEntry {
  const memory = (after ?? before) as Memory;
  return {
    id: uuidv7(),
    memoryId: memory.id,
    userId: memory.userId,
    event,
    before,
    after,
    actor: 'conformance',
    at: after?.updatedAt ?? new Date().toISOString(),
    reason: null,
  };
}

/** Inserts memories (one insert call per user, in order) with their vectors and 'add' history. */
export async function seed(store: MemoryStore, memories: Memory[], vectors?: Map<string, Float32Array>): Promise<void> {
  const byUser = new Map<string, MemoryRecord[]>();
  for (const memory of memories) {
    const vector = vectors?.get(memory.id) ?? vectorFor(minuteOf(memory.id));
    byUser.set(memory.userId, [...(byUser.get(memory.userId) ?? []), { memory, vector }]);
  }
  for (const records of byUser.values()) {
    await store.insert(
      records,
      records.map(({ memory }) => historyEntry('add', null, memory)),
    );
  }
}

export const filter = (fields: Partial<StoreFilter> = {}): StoreFilter => ({ now: NOW, ...fields });
