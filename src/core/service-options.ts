/** How a `MemoryService` is built and configured, and what it reports to its observers. */
import type { Embedder } from '../embed/embedder.js';
import type { MemoryStore } from '../stores/store.js';
import type { Decision, Inferrer } from './consolidate.js';
import type { NearDuplicateOptions } from './near-duplicates.js';
import type { SearchOptions } from './search.js';
import type { MemorySource, SearchMode } from './types.js';

/** Receives what the service did, e.g. to count it in metrics. Called synchronously; must not throw. */
export interface ServiceObserver {
  added?(source: MemorySource, created: number, duplicates: number): void;
  searched?(mode: SearchMode, seconds: number): void;
  /** Facts stored or matched through an LLM's decisions (extraction, or an add with an LLM). */
  decided?(decisions: readonly Decision[]): void;
}

/** How the service maintains memories (config `memory.*`). */
export interface MaintenanceOptions {
  /** `infer` for adds that do not say. */
  inferDefault: boolean;
  /** Near-duplicate merge for adds with infer (null: exact duplicates only). */
  nearDuplicates: NearDuplicateOptions | null;
  /** Count reads in accessCount / lastAccessedAt, written at most every `accessFlushMs`. */
  trackAccess: boolean;
  accessFlushMs: number;
  /** With an inferrer: adds with infer are extracted into facts and consolidated by the LLM. */
  extractOnAdd: boolean;
  /** Nearest current memories the LLM compares each fact with. */
  extractCandidates: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceOptions = {
  inferDefault: false,
  nearDuplicates: null,
  trackAccess: false,
  accessFlushMs: 5_000,
  extractOnAdd: true,
  extractCandidates: 5,
};

export interface MemoryServiceOptions {
  store: MemoryStore;
  embedder: Embedder;
  search: SearchOptions;
  /** Default: no inference, no access counting (what the config's defaults turn on, `runtime.ts` passes). */
  maintenance?: MaintenanceOptions;
  /** Extraction and consolidation with an LLM (src/extract); none: `extract` is refused, adds use the rules. */
  inferrer?: Inferrer | null;
  clock?: () => Date;
}

/** How `delete` and `forget` treat a knowledge-base note's section. */
export interface EraseOptions {
  /** The knowledge base dropping its own index: a note's sections may go (note-sections.ts). */
  noteIndex?: boolean;
}
