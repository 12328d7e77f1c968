/**
 * What the write path takes in: a parsed add, an import item, and where a batch is inserted. Its own
 * module so insert.ts and the modules it uses (new-memory.ts, merges.ts) share them without a cycle.
 */
import type { z } from 'zod';
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import type { Actor } from './history.js';
import type { NearDuplicateOptions } from './near-duplicates.js';
import type { AddMemoryInput, addMemorySchema } from './schemas.js';
import type { HistoryEntry, StoreFilter } from './types.js';

/** One memory of an import (e.g. a line of an export file), already mapped to add-style fields. */
export interface ImportItem {
  input: Omit<AddMemoryInput, 'embedding'>;
  /** When the memory was first stored; the new id is time-ordered at this instant. Now when missing or invalid. */
  createdAt?: string | null | undefined;
  updatedAt?: string | null | undefined;
  /** A vector that came with the item; reused only when it is from this store's model and usable. */
  embedding?: { model: string; vector: Float32Array } | null | undefined;
  /** History the item carried. Kept, but re-homed onto the new memory and marked as imported. */
  history?: HistoryEntry[] | undefined;
}

export type ParsedAdd = z.output<typeof addMemorySchema>;

export interface InsertTarget {
  store: MemoryStore;
  embedder: Embedder;
  userId: string;
  /** What the user can see now: dedupe matches against it. */
  visible: StoreFilter;
  /** Fold near-duplicates into what is stored (near-duplicates.ts); exact duplicates are always caught. */
  nearDuplicates?: NearDuplicateOptions | undefined;
  /** Who folds them (for the `merge` history entries) and when. */
  actor?: Actor | undefined;
  /**
   * Exact duplicates are looked for only among memories added with the same namespace (none by
   * default). The knowledge base passes each note's path, so a section that two notes share is
   * indexed for each note and stays findable when the other note goes.
   */
  dedupeNamespace?: string | undefined;
}
