/**
 * Consolidation: storing facts with a decision each — ADD a new memory, UPDATE (supersede) a
 * current one, or NOOP (the fact is already known) — as an extractor (an LLM) proposed them.
 *
 * The proposal is never trusted. Under the user's write lock each decision is checked against the
 * store as it is now, and one that cannot stand is downgraded to ADD with the reason recorded: its
 * target is unknown, no longer current, of another agent scope, or pinned (a pinned memory is never
 * superseded). A fact whose exact content is already current is a NOOP whatever was proposed.
 * Nothing is hard-deleted: a superseded memory keeps its row with `supersededBy` and `validTo`.
 * Everything is written in one atomic insert, each decision with a history entry carrying its reason.
 */
import type { ChatModel } from '../llm/llm.js';
import type { ConsolidationAction, DecidedBy, Decision } from './decision.js';
import { type Actor, historyEntry } from './history.js';
import { contentHash } from './ids.js';
import type { InsertTarget, ParsedAdd } from './insert.js';
import { addedMemory } from './new-memory.js';
import type { HistoryEntry, Memory, MemoryRecord } from './types.js';

export { CONSOLIDATION_ACTIONS, type ConsolidationAction, type DecidedBy, type Decision } from './decision.js';

/** One fact to store and what was proposed for it. `targetId` names a memory for update and noop. */
export interface ProposedFact {
  input: ParsedAdd;
  action: ConsolidationAction;
  targetId: string | null;
  reason: string | null;
  by: DecidedBy;
}

/** A fact's content, the messages it came from, and the defaults its memory takes (scope, tags, expiry …). */
export interface InferRequest {
  userId: string;
  messages: ConversationMessage[];
  /** Fields every fact's memory takes unless the fact says otherwise (category, tags). */
  defaults: Omit<ParsedAdd, 'content'>;
  /** The user's current memories nearest to a text, in the defaults' agent scope, best first. */
  nearest(text: string, limit: number): Promise<Memory[]>;
  now: string;
  signal?: AbortSignal;
}

export interface ConversationMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
  name?: string | undefined;
  at?: string | undefined;
}

/** Why a plan has no facts from the model (its output was rejected, or it found none). */
export interface PlanProblem {
  stage: 'extract' | 'decide';
  kind: 'malformed_json' | 'schema_mismatch' | 'no_output' | 'no_facts';
  message: string;
}

export interface InferPlan {
  facts: ProposedFact[];
  /** Set when extraction gave nothing usable (then `facts` is empty), or decisions were rejected (then every fact is an add). */
  problem: PlanProblem | null;
}

/** Turns messages into facts with proposed decisions (src/extract implements it with a chat model). */
export interface Inferrer {
  /** The model behind it (for metrics and logs). */
  readonly chat: ChatModel;
  /** Rejects only when the model cannot be reached (EngramError `unavailable`); bad output is a `problem`. */
  plan(request: InferRequest): Promise<InferPlan>;
}

/** A fact stored as given (no model involved, or the model failed): an add by `by`. */
export function verbatim(input: ParsedAdd, by: DecidedBy, reason: string | null): ProposedFact {
  return { input, action: 'add', targetId: null, reason, by };
}

/**
 * Applies proposed facts under the user's write lock (the caller holds it). `vectors[i]` is the
 * embedding of `facts[i].input.content`. Returns one decision per fact, in order.
 */
export async function applyConsolidation(
  target: InsertTarget,
  facts: readonly ProposedFact[],
  vectors: readonly Float32Array[],
  actor: Actor,
  at: string,
): Promise<Decision[]> {
  const { store, userId, visible } = target;
  const hashes = facts.map((fact) => contentHash(fact.input.content));
  const targetIds = [...new Set(facts.flatMap((fact) => (fact.targetId === null ? [] : [fact.targetId])))];
  const [existing, targets] = await Promise.all([
    store.findByHashes(userId, [...new Set(hashes)], visible),
    store.getMany(userId, targetIds),
  ]);
  const current = new Map(targets.filter((memory) => isCurrent(memory, visible.now)).map((m) => [m.id, m]));

  const records: MemoryRecord[] = [];
  const history: HistoryEntry[] = [];
  const changed = new Map<string, Memory>();
  const byHash = new Map<string, Memory>(existing);
  const decisions: Decision[] = [];
  for (const [index, fact] of facts.entries()) {
    const hash = hashes[index] as string;
    const content = fact.input.content;
    const same = byHash.get(hash);
    if (same) {
      decisions.push({
        action: 'noop',
        fact: content,
        memory: same,
        superseded: null,
        reason: 'already stored',
        by: 'rule',
      });
      continue;
    }
    const checked = checkTarget(fact, current, changed);
    if (checked.action === 'noop') {
      const memory = checked.target;
      history.push({ ...historyEntry('noop', memory, memory, actor, at), reason: describe(fact, content) });
      decisions.push({ action: 'noop', fact: content, memory, superseded: null, reason: fact.reason, by: fact.by });
      continue;
    }
    const made = addedMemory(userId, fact.input, hash, actor, at);
    const memory = made.memory;
    records.push({ memory, vector: vectors[index] as Float32Array });
    byHash.set(hash, memory);
    if (checked.action === 'update') {
      const before = checked.target;
      const after: Memory = { ...before, supersededBy: memory.id, validTo: at, updatedAt: at };
      changed.set(after.id, after);
      current.delete(after.id);
      history.push({
        ...historyEntry('add', null, memory, actor, at),
        reason: `supersedes ${before.id}: ${fact.reason ?? 'no reason given'}`,
      });
      history.push({
        ...historyEntry('supersede', before, after, actor, at),
        reason: `superseded by ${memory.id}: ${fact.reason ?? 'no reason given'}`,
      });
      decisions.push({ action: 'update', fact: content, memory, superseded: after, reason: fact.reason, by: fact.by });
      continue;
    }
    const reason = checked.downgraded ?? fact.reason;
    history.push({ ...historyEntry('add', null, memory, actor, at), reason });
    decisions.push({
      action: 'add',
      fact: content,
      memory,
      superseded: null,
      reason,
      by: checked.downgraded ? 'rule' : fact.by,
    });
  }
  if (records.length > 0 || history.length > 0) await store.insert(records, history, [...changed.values()]);
  return decisions;
}

type Checked =
  | { action: 'add'; downgraded: string | null }
  | { action: 'update'; target: Memory }
  | { action: 'noop'; target: Memory };

/** Whether the proposed target can take the proposed action now; otherwise an add and why. */
function checkTarget(fact: ProposedFact, current: Map<string, Memory>, changed: Map<string, Memory>): Checked {
  if (fact.action === 'add') return { action: 'add', downgraded: null };
  const id = fact.targetId;
  const wanted = fact.action;
  if (id === null) return { action: 'add', downgraded: `${wanted} without a target: added` };
  if (changed.has(id))
    return { action: 'add', downgraded: `${wanted} of ${id}, which an earlier fact replaced: added` };
  const memory = current.get(id);
  if (!memory) return { action: 'add', downgraded: `${wanted} of ${id}, which is not a current memory: added` };
  if ((memory.agentId ?? null) !== (fact.input.agentId ?? null))
    return { action: 'add', downgraded: `${wanted} of ${id}, which belongs to another agent scope: added` };
  if (wanted === 'update' && memory.pinned)
    return { action: 'add', downgraded: `update of ${id}, which is pinned and never superseded: added` };
  return wanted === 'update' ? { action: 'update', target: memory } : { action: 'noop', target: memory };
}

function isCurrent(memory: Memory, now: string): boolean {
  return (
    memory.supersededBy === null && memory.validTo === null && (memory.expiresAt === null || memory.expiresAt > now)
  );
}

function describe(fact: ProposedFact, content: string): string {
  return `${fact.reason ?? 'already known'} (fact: ${content.length > 200 ? `${content.slice(0, 200)}…` : content})`;
}
