/**
 * `npm run eval -- --dataset personal`: first-hit quality of Engram's search on small personal
 * stores (eval/personal/*.json, written for Engram), and how often it says "nothing relevant" when
 * the store cannot answer.
 *
 * Protocol: one Engram user per fixture store on a temporary SQLite store with the configured
 * embedder. Memories are imported with their own creation times, event dates, sessions,
 * categories and tags; a note's sections are written as one markdown note and cut by the
 * knowledge base's own chunker, so they are stored as the knowledge base stores them. Each
 * question is searched (limit 10) in hybrid, keyword and vector mode.
 *
 * - Answerable questions: Hit@1, Hit@3 and MRR@10 against the memories that answer them.
 * - "Nothing relevant": a search none of whose results is marked relevant (`result.relevant`).
 *   For unanswerable questions that is the right answer; for answerable ones it is a wrong cut,
 *   as is an answer found in the results but marked not relevant.
 *
 *   npm run eval -- --dataset personal [--out results.json]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import type { Actor, MemoryService } from '../src/core/memory-service.js';
import type { SearchResult } from '../src/core/types.js';
import { chunkMarkdown } from '../src/kb/chunk.js';
import { openService } from '../src/runtime.js';
import { type AggregateReport, aggregateByCategory, hitAtK, reciprocalRank, type ScoredItem } from './metrics.js';
import { loadPersonalStores, type PersonalStore, personalDir, QUESTION_CATEGORIES } from './personal-data.js';
import { log, machineTable, markdownTable, progressBar } from './report.js';
import { type Summary, summarize } from './stats.js';

const LIMIT = 10;
const MODES = ['hybrid', 'keyword', 'vector'] as const;
type Mode = (typeof MODES)[number];
const ACTOR: Actor = { name: 'personal-eval', source: 'import' };

interface Ingested {
  userId: string;
  /** Fixture memory id → Engram memory id. */
  ids: Map<string, string>;
  memories: number;
}

/** Whether a result counts as relevant: the search's own flag; results without one all do. */
const isRelevant = (result: SearchResult): boolean => (result as { relevant?: boolean }).relevant !== false;

/** The fixture gives event dates as days; Engram stores instants (midday UTC: the same day in most zones). */
const isoDateTime = (value: string): string => (/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T12:00:00Z` : value);

async function ingest(service: MemoryService, store: PersonalStore): Promise<Ingested> {
  const userId = `personal-${store.user}`;
  const ids = new Map<string, string>();
  const plain = store.memories.filter((memory) => memory.note === undefined);
  const imported = await service.importBatch(
    userId,
    plain.map((memory) => ({
      input: {
        content: memory.content,
        ...(memory.category !== undefined && { category: memory.category }),
        ...(memory.tags !== undefined && { tags: memory.tags }),
        ...(memory.sessionId !== undefined && { sessionId: memory.sessionId }),
        ...(memory.eventAt !== undefined && { eventAt: isoDateTime(memory.eventAt) }),
        infer: false,
      },
      createdAt: memory.createdAt,
    })),
    ACTOR,
  );
  imported.results.forEach((result, i) => {
    ids.set((plain[i] as (typeof plain)[number]).id, result.memory.id);
  });

  // Notes: each note's sections as one markdown body, cut by the knowledge base's chunker.
  const notes = new Map<string, typeof store.memories>();
  for (const memory of store.memories) {
    if (memory.note) notes.set(memory.note.title, [...(notes.get(memory.note.title) ?? []), memory]);
  }
  for (const [title, sections] of notes) {
    const body = sections.map((section) => `## ${section.note?.heading}\n\n${section.content}`).join('\n\n');
    const chunks = chunkMarkdown(title, body);
    const items = chunks.map((chunk) => {
      const section = sections.find((s) => chunk.heading === `${title} › ${s.note?.heading}`);
      return { chunk, section };
    });
    const added = await service.importBatch(
      userId,
      items.map(({ chunk, section }) => ({
        input: { content: chunk.content, category: section?.category ?? 'notes', infer: false },
        createdAt: section?.createdAt ?? sections[0]?.createdAt,
      })),
      ACTOR,
    );
    added.results.forEach((result, i) => {
      const section = items[i]?.section;
      if (section) ids.set(section.id, result.memory.id);
    });
  }
  for (const memory of store.memories)
    if (!ids.has(memory.id)) throw new Error(`${memory.id}: not stored (its note section was not found)`);
  return { userId, ids, memories: new Set(ids.values()).size };
}

interface ModeResult {
  report: AggregateReport;
  latency: Summary;
}

async function evaluate(
  service: MemoryService,
  stores: { store: PersonalStore; ingested: Ingested }[],
  mode: Mode,
): Promise<ModeResult> {
  const total = stores.reduce((sum, { store }) => sum + store.questions.length, 0);
  const bar = progressBar(`search ${mode}`, total);
  const items: ScoredItem[] = [];
  const totals: number[] = [];
  for (const { store, ingested } of stores) {
    for (const question of store.questions) {
      const { results, timings } = await service.search(ingested.userId, {
        query: question.question,
        mode,
        limit: LIMIT,
      });
      totals.push(timings.totalMs);
      const relevant = results.filter(isRelevant);
      const nothing = relevant.length === 0 ? 1 : 0;
      const scores: Record<string, number> = {};
      if (question.category === 'unanswerable') {
        scores.nothingRelevant = nothing;
      } else {
        const answers = question.answers.map((id) => ingested.ids.get(id) as string);
        const retrieved = results.map((result) => result.memory.id);
        scores['Hit@1'] = hitAtK(retrieved, answers, 1);
        scores['Hit@3'] = hitAtK(retrieved, answers, 3);
        scores.MRR = reciprocalRank(retrieved, answers);
        // Cut: the search said nothing is relevant, or found the answer and marked it not relevant.
        const found = results.filter((result) => answers.includes(result.memory.id));
        scores.cut = nothing === 1 || (found.length > 0 && !found.some(isRelevant)) ? 1 : 0;
      }
      items.push({ category: question.category, scores });
      bar.increment();
    }
  }
  bar.stop();
  return { report: aggregateByCategory(items), latency: summarize(totals) };
}

const pct = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? '–' : (100 * value).toFixed(1);

function overallTable(results: Map<Mode, ModeResult>): string {
  const rows = [...results].map(([mode, { report, latency }]) => {
    const answerable = QUESTION_CATEGORIES.filter((c) => c !== 'unanswerable').map((c) => report.byCategory[c]);
    const weighted = (name: string) => {
      const count = answerable.reduce((sum, agg) => sum + (agg?.count ?? 0), 0);
      return answerable.reduce((sum, agg) => sum + (agg?.means[name] ?? 0) * (agg?.count ?? 0), 0) / count;
    };
    return [
      mode,
      pct(weighted('Hit@1')),
      pct(weighted('Hit@3')),
      weighted('MRR').toFixed(3),
      pct(report.byCategory.unanswerable?.means.nothingRelevant),
      pct(weighted('cut')),
      latency.p50,
      latency.p95,
    ];
  });
  return markdownTable(
    ['mode', 'Hit@1', 'Hit@3', 'MRR', 'unanswerable: nothing relevant', 'answerable: wrongly cut', 'p50 ms', 'p95 ms'],
    rows,
    1,
  );
}

function categoryTable(results: Map<Mode, ModeResult>): string {
  const rows: (string | number)[][] = [];
  for (const category of QUESTION_CATEGORIES) {
    const cells: (string | number)[] = [category, results.get('hybrid')?.report.byCategory[category]?.count ?? 0];
    for (const mode of MODES) {
      const agg = results.get(mode)?.report.byCategory[category];
      if (category === 'unanswerable') cells.push(`nothing relevant ${pct(agg?.means.nothingRelevant)}`, '', '');
      else cells.push(pct(agg?.means['Hit@1']), pct(agg?.means['Hit@3']), (agg?.means.MRR ?? Number.NaN).toFixed(3));
    }
    rows.push(cells);
  }
  const headers = ['category', 'questions'];
  for (const mode of MODES) headers.push(`${mode} Hit@1`, 'Hit@3', 'MRR');
  return markdownTable(headers, rows);
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { out: { type: 'string' } } });
  const stores = loadPersonalStores();
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-eval-personal-'));
  const config = loadConfig({
    overrides: { dataDir, store: 'sqlite', logLevel: 'silent', sqlite: { path: join(dataDir, 'engram.db') } },
  });
  log(`personal stores: ${personalDir()} (${stores.length}); temp store ${dataDir}; embedder ${config.embedder}`);
  const started = performance.now();
  const service = await openService(config);
  try {
    const ingested = [];
    for (const store of stores) ingested.push({ store, ingested: await ingest(service, store) });
    const results = new Map<Mode, ModeResult>();
    for (const mode of MODES) results.set(mode, await evaluate(service, ingested, mode));
    const seconds = (performance.now() - started) / 1000;

    const questions = stores.reduce((sum, store) => sum + store.questions.length, 0);
    const unanswerable = stores.reduce(
      (sum, store) => sum + store.questions.filter((q) => q.category === 'unanswerable').length,
      0,
    );
    const out: string[] = ['# Engram on personal stores — first-hit quality', '', machineTable(), ''];
    out.push(
      markdownTable(
        ['run', ''],
        [
          ['stores', ingested.map(({ store, ingested: i }) => `${store.user} (${i.memories} memories)`).join(', ')],
          ['questions', `${questions} (${unanswerable} unanswerable)`],
          ['embedder', `${config.embedder} (${config.embed.backend})`],
          [
            'search',
            `limit ${LIMIT}; RRF k=${config.search.rrfK}, keywordWeight=${config.search.keywordWeight}, vectorWeight=${config.search.vectorWeight}; context window ${config.search.contextWindow}`,
          ],
          ['total time', `${seconds.toFixed(0)} s`],
        ],
      ),
      '',
      '## Overall (answerable questions: Hit@k and wrong cuts in %; unanswerable: % answered "nothing relevant")',
      '',
      overallTable(results),
      '',
      '## Per category (%)',
      '',
      categoryTable(results),
      '',
    );
    process.stdout.write(`${out.join('\n')}\n`);
    if (args.out) {
      const json = Object.fromEntries([...results].map(([mode, r]) => [mode, r.report]));
      await writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
      log(`wrote ${args.out}`);
    }
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
