/**
 * The LLM path of the memory service: an add with infer, and an extraction from a conversation.
 * The model proposes facts with a decision each (consolidate.ts judges them); this module asks it,
 * falls back to storing an item as given when it cannot answer, embeds the facts and writes the
 * decisions under the user's write lock. The service owns the lock, the store and the observers;
 * it hands them in as an `InferenceContext`.
 */
import type { Embedder } from '../embed/embedder.js';
import {
  applyConsolidation,
  type ConversationMessage,
  type Decision,
  type InferRequest,
  type Inferrer,
  type PlanProblem,
  type ProposedFact,
  verbatim,
} from './consolidate.js';
import { EngramError } from './errors.js';
import type { Actor } from './history.js';
import type { AddResult, InsertTarget, ParsedAdd } from './insert.js';
import type { Memory } from './types.js';
import { suppliedVectors } from './vectors.js';

/** What an extraction stored: one decision per fact, and why there were none, if there were none. */
export interface ExtractResult {
  decisions: Decision[];
  /** `no_facts`: the model found nothing to remember (nothing was stored). */
  problem: PlanProblem | null;
}

/** What the LLM path needs from the service. */
export interface InferenceContext {
  inferrer: Inferrer;
  embedder: Embedder;
  now(): string;
  /** Where the user's memories are written, and what dedupe matches against. */
  target(userId: string): InsertTarget;
  /** Runs `work` under the user's write lock. */
  locked<T>(userId: string, work: () => Promise<T>): Promise<T>;
  /** The user's current memories nearest to a text, in one agent scope (null: the user's own), best first. */
  nearest(userId: string, agentId: string | null, text: string, limit: number): Promise<Memory[]>;
  /** Tells the observers what was stored. */
  decided(actor: Actor, decisions: readonly Decision[]): void;
}

/**
 * An add with an LLM: each item with infer is extracted into facts, which the model compares
 * with the user's nearest memories (add / update / noop); items without infer are stored as given.
 * An item whose extraction fails or finds nothing is stored as given (nothing the user asked to
 * remember is lost); the reason is in its decision. The whole batch is written in one step.
 */
export async function addInferred(
  context: InferenceContext,
  userId: string,
  parsed: ParsedAdd[],
  actor: Actor,
): Promise<AddResult[]> {
  const at = context.now();
  const plans = await Promise.all(
    parsed.map(async (input): Promise<ProposedFact[]> => {
      if (!input.infer) return [verbatim(input, 'rule', null)];
      const { content, embedding: _unused, infer: _infer, ...defaults } = input;
      const plan = await context.inferrer
        .plan(inferRequest(context, userId, [{ role: 'user', content }], defaults, at))
        .catch((error: unknown) => {
          if (error instanceof EngramError && error.code === 'unavailable')
            return {
              facts: [],
              problem: { stage: 'extract', kind: 'no_output', message: 'the LLM is unavailable' } as const,
            };
          throw error;
        });
      if (plan.facts.length > 0) return plan.facts;
      const why =
        plan.problem?.kind === 'no_facts' ? 'the model found no facts' : `extraction failed (${plan.problem?.message})`;
      return [verbatim(input, 'fallback', `${why}: stored as given`)];
    }),
  );
  const decisions = await consolidate(context, userId, plans.flat(), actor);
  let next = 0;
  return plans.map((plan) => {
    const own = decisions.slice(next, next + plan.length);
    next += plan.length;
    const first = own[0] as Decision;
    return { memory: first.memory, duplicate: own.every((d) => d.action === 'noop'), merged: false, decisions: own };
  });
}

/**
 * Extracts the facts worth remembering from a conversation and consolidates them with the user's
 * memories. An unusable reply from the model is an `llm_output_invalid` error and stores nothing.
 */
export async function extractFacts(
  context: InferenceContext,
  userId: string,
  messages: ConversationMessage[],
  defaults: InferRequest['defaults'],
  actor: Actor,
): Promise<ExtractResult> {
  const plan = await context.inferrer.plan(inferRequest(context, userId, messages, defaults, context.now()));
  if (plan.facts.length === 0) {
    if (plan.problem?.kind === 'no_facts') return { decisions: [], problem: plan.problem };
    throw new EngramError('llm_output_invalid', `the LLM's reply was unusable: ${plan.problem?.message}`, {
      details: { stage: plan.problem?.stage, kind: plan.problem?.kind },
    });
  }
  return { decisions: await consolidate(context, userId, plan.facts, actor), problem: plan.problem };
}

function inferRequest(
  context: InferenceContext,
  userId: string,
  messages: ConversationMessage[],
  defaults: InferRequest['defaults'],
  now: string,
): InferRequest {
  const agentId = defaults.agentId ?? null;
  return {
    userId,
    messages,
    defaults,
    now,
    nearest: (text, limit) => context.nearest(userId, agentId, text, limit),
  };
}

/** Embeds the facts, then applies their decisions under the user's write lock. */
async function consolidate(
  context: InferenceContext,
  userId: string,
  facts: ProposedFact[],
  actor: Actor,
): Promise<Decision[]> {
  const supplied = suppliedVectors(
    facts.map((fact) => fact.input),
    context.embedder.dimension,
  );
  const missing = facts.flatMap((_, i) => (supplied[i] === null ? [i] : []));
  const embedded = await context.embedder.embed(
    missing.map((i) => (facts[i] as ProposedFact).input.content),
    { scope: userId },
  );
  missing.forEach((index, i) => {
    supplied[index] = embedded[i] as Float32Array;
  });
  const decisions = await context.locked(userId, () =>
    applyConsolidation(context.target(userId), facts, supplied as Float32Array[], actor, context.now()),
  );
  context.decided(actor, decisions);
  return decisions;
}
