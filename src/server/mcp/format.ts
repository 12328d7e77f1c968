import type { HistoryEntry, Memory, SearchExplanation, SearchResult } from '../../core/types.js';
import type { JobView } from '../../jobs/index.js';

/** How tool results read for a model: short, plain text, ids and dates spelled out. */

const PREVIEW_CHARS = 160;

export function preview(content: string, max = PREVIEW_CHARS): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function describeMemory(memory: Memory): string {
  const parts = [`id ${memory.id}`, `category ${memory.category}`];
  if (memory.tags.length > 0) parts.push(`tags ${memory.tags.join(', ')}`);
  parts.push(`stored ${memory.createdAt}`);
  if (memory.updatedAt !== memory.createdAt) parts.push(`updated ${memory.updatedAt}`);
  if (memory.eventAt) parts.push(`happened ${memory.eventAt}`);
  if (memory.expiresAt) parts.push(`expires ${memory.expiresAt}`);
  if (memory.pinned) parts.push('pinned');
  if (Object.keys(memory.metadata).length > 0) parts.push(`metadata ${JSON.stringify(memory.metadata)}`);
  return parts.join(' · ');
}

export function formatMemory(memory: Memory, index: number, extra?: string): string {
  const content = memory.content.trim().replace(/\n/g, '\n   ');
  return `${index + 1}. ${content}\n   (${describeMemory(memory)})${extra ? `\n   ${extra}` : ''}`;
}

/** Three significant digits, readable for tiny and large values alike. */
export const num = (value: number): string => String(Number(value.toPrecision(3)));

export function explain(explanation: SearchExplanation): string {
  const why: string[] = [];
  if (explanation.keyword)
    why.push(
      `keyword rank ${explanation.keyword.rank} (score ${num(explanation.keyword.score)}${
        explanation.keyword.coverage === undefined
          ? ''
          : `, covers ${Math.round(explanation.keyword.coverage * 100)} % of the query`
      })`,
    );
  if (explanation.vector)
    why.push(`vector rank ${explanation.vector.rank} (similarity ${num(explanation.vector.similarity)})`);
  if (explanation.context) why.push(contextReason(explanation.context));
  if (explanation.recency)
    why.push(`recency ×${num(explanation.recency.factor)} (${explanation.recency.ageDays.toFixed(0)} days old)`);
  if (why.length === 0) return `${explanation.mode} match`;
  const fused = explanation.fusion ? `, fused by RRF k=${explanation.fusion.k}` : '';
  const similarity = explanation.relevance?.similarity;
  const relevance =
    explanation.relevance && similarity !== null && similarity !== undefined && explanation.vector === null
      ? `; similarity ${num(similarity)}`
      : '';
  return `${why.join(' + ')}${fused}${relevance}`;
}

/** "context +0.021 from the turns 1 before and 2 after" */
export function contextReason(context: NonNullable<SearchExplanation['context']>): string {
  const where = context.from.map(({ offset }) => (offset < 0 ? `${-offset} before` : `${offset} after`));
  return `conversation context +${num(context.boost)} from the memories ${where.join(', ')}`;
}

export function formatResult(result: SearchResult, index: number): string {
  return formatMemory(result.memory, index, `score ${num(result.score)}: ${explain(result.explanation)}`);
}

export const plural = (count: number, word: string, words = `${word}s`) => `${count} ${count === 1 ? word : words}`;
export const memories = (count: number) => plural(count, 'memory', 'memories');

const CHANGE_FIELDS = ['content', 'category', 'tags', 'metadata', 'eventAt', 'expiresAt', 'pinned'] as const;
type ChangeField = (typeof CHANGE_FIELDS)[number];

export function changedFields(before: Memory | null, after: Memory | null): ChangeField[] {
  if (!before || !after) return [];
  return CHANGE_FIELDS.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

export function formatHistoryEntry(entry: HistoryEntry, index: number): string {
  const head = `${index + 1}. ${entry.at} ${entry.event} by ${entry.actor}`;
  if (entry.event === 'add' && entry.after) return `${head}: "${preview(entry.after.content)}"`;
  if (entry.event === 'delete' && entry.before) return `${head}: "${preview(entry.before.content)}"`;
  const changes = changedFields(entry.before, entry.after).map((field) => {
    if (field === 'content')
      return `content "${preview(entry.before?.content ?? '', 80)}" → "${preview(entry.after?.content ?? '', 80)}"`;
    return `${field} ${JSON.stringify(entry.before?.[field] ?? null)} → ${JSON.stringify(entry.after?.[field] ?? null)}`;
  });
  const reason = entry.reason ? ` (${entry.reason})` : '';
  return `${head}${reason}: ${changes.length > 0 ? changes.join('; ') : 'no visible change'}`;
}

export function describeJob(job: JobView): string {
  const head = `Job ${job.id} (${job.kind}) is ${job.status} after ${plural(job.attempts, 'attempt')}`;
  if (job.status === 'succeeded') return `${head}. Result: ${JSON.stringify(job.result)}`;
  if (job.error) {
    const last = `${job.error.message} (${job.error.code})`;
    return job.status === 'failed'
      ? `${head}: ${last}`
      : `${head}; the last attempt failed: ${last}. It will be retried.`;
  }
  return `${head}.`;
}
