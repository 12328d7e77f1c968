import {
  type ConsolidationAction,
  type InferPlan,
  type InferRequest,
  type Inferrer,
  type PlanProblem,
  type ProposedFact,
  verbatim,
} from '../core/consolidate.js';
import type { ParsedAdd } from '../core/insert.js';
import type { Memory } from '../core/types.js';
import type { ChatModel } from '../llm/llm.js';
import { generateObject, type StructuredError } from '../llm/structured.js';
import type { Logger } from '../logger.js';
import { cleanReason, type Decided, decidedSchema, extractedSchema, sanitizeFacts } from './output.js';
import { decisionPrompt, extractionPrompt } from './prompts.js';

export interface ExtractorOptions {
  /** Nearest current memories looked up per fact (ENGRAM_EXTRACT_CANDIDATES). */
  candidates: number;
  /** Most facts kept from one extraction (ENGRAM_EXTRACT_MAX_FACTS). */
  maxFacts: number;
  /** Most memories shown to the model in one decision (the union of every fact's candidates). */
  maxMemories?: number;
  logger?: Logger;
}

/** Problems with the model's output since start, for metrics (`engram_extract_output_problems_total`). */
export interface ExtractorStats {
  /** Whole replies rejected, by stage and kind (the extraction then falls back; see `Inferrer.plan`). */
  rejected: Record<'extract' | 'decide', Record<StructuredError['kind'], number>>;
  /** Facts dropped from accepted replies: empty, too long, repeated, beyond the limit. */
  factsDropped: number;
  /** Fields dropped from kept facts: unreadable dates, invalid categories or tags. */
  fieldsDropped: number;
  /** Decisions ignored: an unknown fact reference or action, a repeated fact, an unknown memory reference. */
  invalidDecisions: number;
  /** Facts the model gave no (usable) decision for; they are added. */
  undecided: number;
}

const kinds = (): Record<StructuredError['kind'], number> => ({ malformed_json: 0, schema_mismatch: 0, no_output: 0 });

const ACTION_WORDS: Record<string, ConsolidationAction> = {
  add: 'add',
  update: 'update',
  noop: 'noop',
  none: 'noop',
};

/**
 * Extraction and consolidation with a chat model: one structured call turns the messages into
 * facts; when the user has related memories, a second call decides add / update / noop for every
 * fact at once against them. What the model returns is checked here (references, actions) and
 * again when applied (see core/consolidate.ts).
 */
export class Extractor implements Inferrer {
  readonly chat: ChatModel;
  readonly stats: ExtractorStats = {
    rejected: { extract: kinds(), decide: kinds() },
    factsDropped: 0,
    fieldsDropped: 0,
    invalidDecisions: 0,
    undecided: 0,
  };
  readonly #options: Required<Omit<ExtractorOptions, 'logger'>>;
  readonly #logger: Logger | undefined;

  constructor(chat: ChatModel, options: ExtractorOptions) {
    this.chat = chat;
    this.#options = { maxMemories: 30, ...options };
    this.#logger = options.logger;
  }

  async plan(request: InferRequest): Promise<InferPlan> {
    const extracted = await generateObject(this.chat, {
      messages: extractionPrompt(request.messages, request.now),
      schema: extractedSchema,
      name: 'record_facts',
      description: 'Record the facts worth remembering from the conversation (an empty list when there are none).',
      temperature: 0,
      ...(request.signal && { signal: request.signal }),
    });
    if (!extracted.ok) return { facts: [], problem: this.#rejected('extract', extracted.error, request.userId) };
    const sanitized = sanitizeFacts(extracted.value, request.defaults, this.#options.maxFacts);
    this.stats.factsDropped += sanitized.dropped;
    this.stats.fieldsDropped += sanitized.fieldsDropped;
    const facts = sanitized.facts;
    if (facts.length === 0) {
      return { facts: [], problem: { stage: 'extract', kind: 'no_facts', message: 'the model found no facts' } };
    }

    const memories = await this.#candidates(request, facts);
    if (memories.length === 0) {
      return { facts: facts.map((input) => verbatim(input, 'rule', 'nothing related is stored')), problem: null };
    }
    const decided = await generateObject(this.chat, {
      messages: decisionPrompt(
        facts.map((fact, i) => ({ ref: `f${i + 1}`, content: fact.content })),
        memories.map((memory, i) => ({ ref: `m${i + 1}`, content: memory.content, eventAt: memory.eventAt })),
      ),
      schema: decidedSchema,
      name: 'decide',
      description: 'Decide, for every new fact, whether to add it, update (replace) a memory with it, or skip it.',
      temperature: 0,
      ...(request.signal && { signal: request.signal }),
    });
    if (!decided.ok) {
      const problem = this.#rejected('decide', decided.error, request.userId);
      const reason = `the model's decision was unusable (${problem.kind}): added`;
      return { facts: facts.map((input) => verbatim(input, 'fallback', reason)), problem };
    }
    return { facts: this.#proposals(facts, memories, decided.value), problem: null };
  }

  /** The union of every fact's nearest current memories, best first, at most `maxMemories`. */
  async #candidates(request: InferRequest, facts: readonly ParsedAdd[]): Promise<Memory[]> {
    const lists = await Promise.all(facts.map((fact) => request.nearest(fact.content, this.#options.candidates)));
    const seen = new Map<string, Memory>();
    for (let rank = 0; rank < this.#options.candidates; rank++) {
      for (const list of lists) {
        const memory = list[rank];
        if (memory && !seen.has(memory.id) && seen.size < this.#options.maxMemories) seen.set(memory.id, memory);
      }
    }
    return [...seen.values()];
  }

  #proposals(facts: readonly ParsedAdd[], memories: readonly Memory[], decided: Decided): ProposedFact[] {
    const proposals: (ProposedFact | undefined)[] = new Array(facts.length);
    for (const decision of decided.decisions) {
      if (decision === null) {
        this.stats.invalidDecisions++;
        continue;
      }
      const index = refIndex(decision.fact, 'f', facts.length);
      const action = ACTION_WORDS[decision.action.trim().toLowerCase()];
      if (index === null || action === undefined || proposals[index] !== undefined) {
        this.stats.invalidDecisions++;
        continue;
      }
      const input = facts[index] as ParsedAdd;
      const reason = cleanReason(decision.reason);
      if (action === 'add') {
        proposals[index] = verbatim(input, 'model', reason);
        continue;
      }
      const target = decision.target ? refIndex(decision.target, 'm', memories.length) : null;
      if (target === null) this.stats.invalidDecisions++;
      // An unknown target is passed on as null: applying it records the downgrade to an add.
      const targetId = target === null ? null : (memories[target] as Memory).id;
      proposals[index] = { input, action, targetId, reason, by: 'model' };
    }
    return facts.map((input, i) => {
      const proposal = proposals[i];
      if (proposal) return proposal;
      this.stats.undecided++;
      return verbatim(input, 'fallback', 'the model gave no decision: added');
    });
  }

  #rejected(stage: 'extract' | 'decide', error: StructuredError, userId: string): PlanProblem {
    this.stats.rejected[stage][error.kind]++;
    // The raw reply is not logged: it holds the user's conversation.
    this.#logger?.warn(
      { stage, kind: error.kind, problem: error.message.slice(0, 300), rawChars: error.raw?.length ?? 0, userId },
      'LLM output rejected',
    );
    return { stage, kind: error.kind, message: error.message.slice(0, 500) };
  }
}

/** The index behind a reference like "f3" (1-based in the prompt), or null when it names nothing. */
function refIndex(ref: string, prefix: 'f' | 'm', count: number): number | null {
  const match = new RegExp(`^${prefix}(\\d{1,6})$`, 'i').exec(ref.trim());
  if (!match) return null;
  const index = Number(match[1]) - 1;
  return index >= 0 && index < count ? index : null;
}
