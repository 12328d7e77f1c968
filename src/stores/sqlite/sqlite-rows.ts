/**
 * The `memories` table's row shape and its mapping to `Memory`, shared by the store's connection
 * and its writer thread.
 */
import type { Memory, Metadata } from '../../core/types.js';

export interface MemoryRow {
  rowid: number;
  id: string;
  user_id: string;
  agent_id: string | null;
  session_id: string | null;
  content: string;
  category: string;
  tags: string;
  metadata: string;
  created_at: string;
  updated_at: string;
  event_at: string | null;
  expires_at: string | null;
  pinned: number;
  source: string;
  hash: string;
  superseded_by: string | null;
  valid_to: string | null;
  access_count: number;
  last_accessed_at: string | null;
}

export const MEMORY_COLUMNS =
  'm.rowid, m.id, m.user_id, m.agent_id, m.session_id, m.content, m.category, m.tags, m.metadata, m.created_at, ' +
  'm.updated_at, m.event_at, m.expires_at, m.pinned, m.source, m.hash, m.superseded_by, m.valid_to, m.access_count, ' +
  'm.last_accessed_at';

export function toRow(memory: Memory): Omit<MemoryRow, 'rowid'> {
  return {
    id: memory.id,
    user_id: memory.userId,
    agent_id: memory.agentId,
    session_id: memory.sessionId,
    content: memory.content,
    category: memory.category,
    tags: JSON.stringify(memory.tags),
    metadata: JSON.stringify(memory.metadata),
    created_at: memory.createdAt,
    updated_at: memory.updatedAt,
    event_at: memory.eventAt,
    expires_at: memory.expiresAt,
    pinned: memory.pinned ? 1 : 0,
    source: memory.source,
    hash: memory.hash,
    superseded_by: memory.supersededBy,
    valid_to: memory.validTo,
    access_count: memory.accessCount,
    last_accessed_at: memory.lastAccessedAt,
  };
}

export function fromRow(row: MemoryRow): Memory {
  return {
    id: row.id,
    userId: row.user_id,
    agentId: row.agent_id,
    sessionId: row.session_id,
    content: row.content,
    category: row.category,
    tags: JSON.parse(row.tags) as string[],
    metadata: JSON.parse(row.metadata) as Metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    eventAt: row.event_at,
    expiresAt: row.expires_at,
    pinned: row.pinned === 1,
    source: row.source as Memory['source'],
    hash: row.hash,
    supersededBy: row.superseded_by,
    validTo: row.valid_to,
    accessCount: row.access_count,
    lastAccessedAt: row.last_accessed_at,
  };
}

export const vectorBytes = (vector: Float32Array): Buffer =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

export function bytesVector(bytes: Buffer): Float32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}
