/**
 * What consolidation (consolidate.ts) decides for each fact of an add with infer. Its own module
 * because the add path (insert.ts) returns decisions too, and consolidate.ts builds on insert.ts.
 */
import type { Memory } from './types.js';

export const CONSOLIDATION_ACTIONS = ['add', 'update', 'noop'] as const;
export type ConsolidationAction = (typeof CONSOLIDATION_ACTIONS)[number];

/** Who made a decision: the model; a rule of Engram's (exact duplicate, downgrade); or a fallback after the model failed. */
export type DecidedBy = 'model' | 'rule' | 'fallback';

/** What happened to one fact. */
export interface Decision {
  action: ConsolidationAction;
  /** The fact as stored or matched. */
  fact: string;
  /** add/update: the new memory; noop: the memory that already says it. */
  memory: Memory;
  /** update: the memory it replaced, as it is now (with `supersededBy` and `validTo`). */
  superseded: Memory | null;
  reason: string | null;
  by: DecidedBy;
}
