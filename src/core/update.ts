import type { z } from 'zod';
import type { MemoryRecords } from '../stores/store.js';
import { EngramError } from './errors.js';
import { matchesFilter } from './filter.js';
import { contentHash } from './ids.js';
import { dedupeTags } from './new-memory.js';
import type { updateMemorySchema } from './schemas.js';
import type { Memory, StoreFilter } from './types.js';

/** The fields an update may change, in the order `changed` lists them. */
export const UPDATABLE_FIELDS = ['content', 'category', 'tags', 'metadata', 'eventAt', 'expiresAt', 'pinned'] as const;
export type UpdatableField = (typeof UPDATABLE_FIELDS)[number];

export interface UpdateResult {
  /** The memory after the update (unchanged, with its old `updatedAt`, when nothing changed). */
  memory: Memory;
  /** The fields whose values changed; empty when the update asked for the current values. */
  changed: UpdatableField[];
}

export type ParsedUpdate = z.output<typeof updateMemorySchema>;
export type UpdatableFields = Pick<Memory, UpdatableField>;

/** The values `patch` asks for: a field it leaves out keeps its current value, and null clears a date. */
export function proposedFields(before: Memory, patch: ParsedUpdate): UpdatableFields {
  return {
    content: patch.content ?? before.content,
    category: patch.category ?? before.category,
    tags: patch.tags !== undefined ? dedupeTags(patch.tags) : before.tags,
    metadata: patch.metadata ?? before.metadata,
    eventAt: patch.eventAt !== undefined ? patch.eventAt : before.eventAt,
    expiresAt: patch.expiresAt !== undefined ? patch.expiresAt : before.expiresAt,
    pinned: patch.pinned ?? before.pinned,
  };
}

export function changedFields(before: Memory, proposed: UpdatableFields): UpdatableField[] {
  return UPDATABLE_FIELDS.filter((field) => !sameJson(before[field], proposed[field]));
}

/** `before` with the changed fields set, a new `updatedAt` and the hash of its (possibly new) content. */
export function applyChanges(
  before: Memory,
  proposed: UpdatableFields,
  changed: UpdatableField[],
  updatedAt: string,
): Memory {
  const after: Memory = { ...before, updatedAt };
  for (const field of changed) Object.assign(after, { [field]: proposed[field] });
  after.hash = contentHash(after.content);
  return after;
}

/** Throws a conflict when the updated memory would duplicate another memory the user can see. */
export async function assertNoClash(
  store: MemoryRecords,
  userId: string,
  before: Memory,
  after: Memory,
  visible: StoreFilter,
): Promise<void> {
  // Dedupe sees visible memories only: check when the content changes or the memory becomes visible again.
  if (matchesFilter(after, visible) && (after.hash !== before.hash || !matchesFilter(before, visible))) {
    const clash = await store.findByHash(userId, after.hash, visible);
    if (clash && clash.id !== after.id) {
      throw new EngramError('conflict', `memory ${clash.id} already has this content`, {
        details: { existingId: clash.id },
      });
    }
  }
}

/** Deep equality of JSON values; object key order does not matter, array order does. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
  );
}
