import cliProgress from 'cli-progress';
import type { Memory, SearchResult } from '../core/types.js';

const short = (text: string, max = 160): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function formatMemory(memory: Memory): string {
  const tags = memory.tags.length ? ` [${memory.tags.join(', ')}]` : '';
  return `${memory.id}  ${memory.createdAt.slice(0, 19)}Z  (${memory.category})${tags}\n    ${short(memory.content)}`;
}

/** One search hit with the reasons it ranked where it did. */
export function explain(result: SearchResult): string {
  const { keyword, vector, fusion, context, recency } = result.explanation;
  const parts = [
    keyword ? `keyword #${keyword.rank} (bm25 ${keyword.score.toFixed(2)})` : 'no keyword match',
    vector ? `vector #${vector.rank} (similarity ${vector.similarity.toFixed(3)})` : 'not in vector top',
  ];
  if (fusion) parts.push(`rrf k=${fusion.k} weights ${fusion.keywordWeight}/${fusion.vectorWeight}`);
  if (context) {
    const where = context.from.map(({ offset }) => (offset < 0 ? `${-offset} before` : `${offset} after`));
    parts.push(`context +${context.boost.toFixed(4)} (neighbours ${where.join(', ')})`);
  }
  if (recency) parts.push(`recency ×${recency.factor.toFixed(3)} (${recency.ageDays.toFixed(0)} days old)`);
  return parts.join(', ');
}

export function formatSearchResult(result: SearchResult, position: number): string {
  return `${position}. ${short(result.memory.content)}\n    score ${result.score.toFixed(4)}: ${explain(result)}  id ${result.memory.id}`;
}

/** A progress bar on stderr (stdout stays clean for data). */
export function progressBar(label: string, unit: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
}
