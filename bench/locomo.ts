/**
 * `npm run eval`: evidence recall of Engram's search on LoCoMo (locomo10.json).
 *
 * Protocol: one memory per dialogue turn ("<speaker>: <text>", eventAt = the session's date,
 * metadata {dia_id}), one Engram user per conversation; questions of categories 1–4 whose
 * evidence ids all name turns. Evidence recall@k = fraction of a question's evidence turns in the
 * top k results, averaged over questions; per mode (keyword, vector, hybrid), overall and per
 * category. Search goes through MemoryService.search (limit 25) on a temporary SQLite store with
 * the configured embedder (default: USE). Fusion settings come from the usual configuration
 * (ENGRAM_SEARCH_* env vars); `--sweep` also evaluates hybrid over a grid of fusion settings.
 *
 *   node dist/bench/locomo.js [--out results.json] [--sweep] [--conversations N]
 *        [--sweep-vw 0.25,0.5,1] [--sweep-kw 1] [--sweep-k 10,60] [--sweep-candidates 50,100]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { type Actor, MemoryService } from '../src/core/memory-service.js';
import { openService, searchOptions } from '../src/runtime.js';
import {
  CATEGORY_NAMES,
  type LocomoConversation,
  type LocomoQuestion,
  type LocomoTurn,
  loadLocomo,
  locomoPath,
  selectQuestions,
} from './locomo-data.js';
import {
  type AggregateReport,
  aggregateByCategory,
  hitAtK,
  recallAtK,
  reciprocalRank,
  type ScoredItem,
} from './metrics.js';
import { log, machineInfo, machineTable, markdownTable, progressBar } from './report.js';
import { type Summary, summarize } from './stats.js';

const KS = [5, 10, 25] as const;
const LIMIT = 25;
const MODES = ['hybrid', 'vector', 'keyword'] as const;
type Mode = (typeof MODES)[number];
const ACTOR: Actor = { name: 'locomo-eval', source: 'import' };

interface EvalQuestion {
  userId: string;
  question: LocomoQuestion;
  /** Evidence as memory ids (distinct; two identical turns are one memory). */
  evidenceIds: string[];
}

interface ModeResult {
  report: AggregateReport;
  latency: Summary;
  embed: Summary;
}

/** The search settings a sweep varies, by config key (ENGRAM_SEARCH_<NAME>). */
const SWEPT = {
  keywordWeight: { flag: 'sweep-kw', env: 'ENGRAM_SEARCH_KEYWORD_WEIGHT' },
  vectorWeight: { flag: 'sweep-vw', env: 'ENGRAM_SEARCH_VECTOR_WEIGHT' },
  rrfK: { flag: 'sweep-k', env: 'ENGRAM_SEARCH_RRF_K' },
  candidates: { flag: 'sweep-candidates', env: 'ENGRAM_SEARCH_CANDIDATES' },
  contextWindow: { flag: 'sweep-window', env: 'ENGRAM_SEARCH_CONTEXT_WINDOW' },
  contextFollowing: { flag: 'sweep-following', env: 'ENGRAM_SEARCH_CONTEXT_FOLLOWING' },
  contextPreceding: { flag: 'sweep-preceding', env: 'ENGRAM_SEARCH_CONTEXT_PRECEDING' },
} as const;
type Swept = keyof typeof SWEPT;
type Settings = Record<Swept, number>;

interface SweepRow {
  settings: Settings;
  report: AggregateReport;
}

/** Every combination of the lists (the cartesian product), in order. */
function grid(lists: Record<Swept, number[]>): Settings[] {
  let out: Partial<Settings>[] = [{}];
  for (const key of Object.keys(lists) as Swept[]) {
    out = out.flatMap((partial) => lists[key].map((value) => ({ ...partial, [key]: value })));
  }
  return out as Settings[];
}

const numberList = (value: string | undefined, fallback: number[]): number[] => {
  if (value === undefined) return fallback;
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((v) => !Number.isFinite(v) || v < 0))
    throw new Error(`not a list of numbers: ${value}`);
  return list;
};

function scoreItem(question: EvalQuestion, retrieved: string[]): ScoredItem {
  const scores: Record<string, number> = {};
  for (const k of KS) scores[`R@${k}`] = recallAtK(retrieved, question.evidenceIds, k);
  scores['Hit@10'] = hitAtK(retrieved, question.evidenceIds, 10);
  scores.MRR = reciprocalRank(retrieved, question.evidenceIds);
  return { category: question.question.category, scores };
}

async function evaluate(
  service: MemoryService,
  questions: EvalQuestion[],
  mode: Mode,
  label: string,
): Promise<ModeResult> {
  const bar = progressBar(label, questions.length);
  const items: ScoredItem[] = [];
  const totals: number[] = [];
  const embeds: number[] = [];
  for (const q of questions) {
    const { results, timings } = await service.search(q.userId, { query: q.question.question, mode, limit: LIMIT });
    items.push(
      scoreItem(
        q,
        results.map((r) => r.memory.id),
      ),
    );
    totals.push(timings.totalMs);
    embeds.push(timings.embedMs);
    bar.increment();
  }
  bar.stop();
  return { report: aggregateByCategory(items), latency: summarize(totals), embed: summarize(embeds) };
}

async function ingest(
  service: MemoryService,
  conversations: LocomoConversation[],
): Promise<{ seconds: number; turns: number; memories: number; maps: Map<string, string>[] }> {
  const total = conversations.reduce((sum, c) => sum + c.turns.length, 0);
  const bar = progressBar('embedding + storing turns', total);
  const started = performance.now();
  const maps: Map<string, string>[] = [];
  const distinct = new Set<string>();
  for (const conversation of conversations) {
    const userId = userOf(conversation);
    const map = new Map<string, string>();
    // One batch per dialogue session, in dialogue order, with the session as sessionId: how a chat
    // assistant stores a conversation as it happens (search lends context along that order).
    const sessions = new Map<number, LocomoTurn[]>();
    for (const turn of conversation.turns) sessions.set(turn.session, [...(sessions.get(turn.session) ?? []), turn]);
    for (const [session, batch] of sessions) {
      const results = await service.addMany(
        userId,
        batch.map((turn) => ({
          content: contentOf(turn),
          eventAt: turn.eventAt,
          sessionId: `${conversation.sampleId}-session-${session}`,
          metadata: { dia_id: turn.diaId },
          // The protocol stores every turn verbatim (near-duplicate turns are distinct evidence).
          infer: false,
        })),
        ACTOR,
      );
      results.forEach((result, j) => {
        map.set((batch[j] as (typeof batch)[number]).diaId, result.memory.id);
        distinct.add(result.memory.id);
      });
      bar.increment(batch.length);
    }
    maps.push(map);
  }
  bar.stop();
  return { seconds: (performance.now() - started) / 1000, turns: total, memories: distinct.size, maps };
}

const contentOf = (turn: LocomoTurn): string => `${turn.speaker}: ${turn.text}`;

const userOf = (conversation: LocomoConversation): string =>
  `locomo-${conversation.sampleId}`.replace(/[^A-Za-z0-9_.@:-]/g, '_');

const pct = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? '–' : (100 * value).toFixed(1);

function overallTable(results: Map<Mode, ModeResult>): string {
  const rows = [...results].map(([mode, r]) => [
    mode,
    pct(r.report.overall.means['R@5']),
    pct(r.report.overall.means['R@10']),
    pct(r.report.overall.means['R@25']),
    pct(r.report.overall.means['Hit@10']),
    (r.report.overall.means.MRR ?? Number.NaN).toFixed(3),
    r.latency.p50,
    r.latency.p95,
    r.embed.p50,
  ]);
  return markdownTable(['mode', 'R@5', 'R@10', 'R@25', 'Hit@10', 'MRR', 'p50 ms', 'p95 ms', 'embed p50 ms'], rows, 1);
}

function categoryTable(report: AggregateReport): string {
  const rows = Object.entries(report.byCategory).map(([category, agg]) => [
    `${category} ${CATEGORY_NAMES[Number(category)] ?? ''}`.trim(),
    agg.count,
    pct(agg.means['R@5']),
    pct(agg.means['R@10']),
    pct(agg.means['R@25']),
  ]);
  rows.push([
    'all',
    report.overall.count,
    pct(report.overall.means['R@5']),
    pct(report.overall.means['R@10']),
    pct(report.overall.means['R@25']),
  ]);
  return markdownTable(['category', 'questions', 'R@5', 'R@10', 'R@25'], rows);
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      out: { type: 'string' },
      sweep: { type: 'boolean', default: false },
      conversations: { type: 'string' },
      'sweep-kw': { type: 'string' },
      'sweep-vw': { type: 'string' },
      'sweep-k': { type: 'string' },
      'sweep-candidates': { type: 'string' },
      'sweep-window': { type: 'string' },
      'sweep-following': { type: 'string' },
      'sweep-preceding': { type: 'string' },
    },
  });
  const path = locomoPath();
  let conversations = loadLocomo(path);
  if (args.conversations !== undefined) conversations = conversations.slice(0, Number(args.conversations));

  const dataDir = await mkdtemp(join(tmpdir(), 'engram-eval-'));
  // sqlite.path is pinned into the temp dir so an ENGRAM_SQLITE_PATH in the environment can never
  // point the evaluation at a real database; every other setting (fusion, embed threads) tunes as usual.
  const config = loadConfig({
    overrides: { dataDir, store: 'sqlite', logLevel: 'silent', sqlite: { path: join(dataDir, 'engram.db') } },
  });
  log(
    `LoCoMo: ${path}; temp store ${dataDir}; embedder ${config.embedder} (${config.embed.backend}, threads ${config.embed.threads ?? 'default'})`,
  );
  const started = performance.now();
  const service = await openService(config);
  try {
    const ingested = await ingest(service, conversations);

    const questions: EvalQuestion[] = [];
    const skipped = { category: 0, noEvidence: 0, unresolved: 0 };
    let totalQuestions = 0;
    conversations.forEach((conversation, index) => {
      const map = ingested.maps[index] as Map<string, string>;
      const selection = selectQuestions(conversation);
      totalQuestions += conversation.questions.length;
      for (const key of Object.keys(skipped) as (keyof typeof skipped)[]) skipped[key] += selection.skipped[key];
      for (const question of selection.kept) {
        const evidenceIds = [...new Set(question.evidence.map((id) => map.get(id) as string))];
        questions.push({ userId: userOf(conversation), question, evidenceIds });
      }
    });
    log(`questions kept: ${questions.length} of ${totalQuestions}`);

    const results = new Map<Mode, ModeResult>();
    for (const mode of MODES) results.set(mode, await evaluate(service, questions, mode, `search ${mode}`));

    const sweep: SweepRow[] = [];
    if (args.sweep) {
      // Each setting sweeps the values given with its flag, or stays at its configured value.
      const lists = Object.fromEntries(
        (Object.keys(SWEPT) as Swept[]).map((key) => [
          key,
          numberList(args[SWEPT[key].flag] as string | undefined, [config.search[key]]),
        ]),
      ) as Record<Swept, number[]>;
      for (const settings of grid(lists)) {
        // Same opened store and embedder, different search settings: no second init().
        const variant = new MemoryService({
          store: service.store,
          embedder: service.embedder,
          search: searchOptions({ ...config, search: { ...config.search, ...settings } }),
        });
        const label = `sweep ${Object.entries(settings)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ')}`;
        const r = await evaluate(variant, questions, 'hybrid', label);
        sweep.push({ settings, report: r.report });
      }
    }
    const seconds = (performance.now() - started) / 1000;

    // ---- report (stdout) ----
    const out: string[] = [];
    out.push('# Engram on LoCoMo — evidence recall', '', machineTable(), '');
    out.push(
      markdownTable(
        ['run', ''],
        [
          ['data', relative(process.cwd(), path)],
          ['conversations / users', String(conversations.length)],
          [
            'turns → memories',
            `${ingested.turns} → ${ingested.memories} (identical turns of one speaker share a memory)`,
          ],
          ['questions kept (cat. 1–4, all evidence resolves)', String(questions.length)],
          [
            'questions skipped',
            `${skipped.category} category 5, ${skipped.noEvidence} without evidence, ${skipped.unresolved} with evidence naming no turn (of ${totalQuestions})`,
          ],
          [
            'ingest',
            `${ingested.seconds.toFixed(1)} s, ${(ingested.turns / ingested.seconds).toFixed(1)} turns/s (${config.embedder} ${config.embed.backend}, threads ${config.embed.threads ?? 'default'}; one batch per session, in dialogue order)`,
          ],
          ['store', `sqlite (temp), search limit ${LIMIT}`],
          [
            'search',
            `RRF k=${config.search.rrfK}, keywordWeight=${config.search.keywordWeight}, vectorWeight=${config.search.vectorWeight}, candidates=${config.search.candidates}; context window ${config.search.contextWindow}, following ${config.search.contextFollowing}, preceding ${config.search.contextPreceding}`,
          ],
          ['total time', `${seconds.toFixed(0)} s`],
        ],
      ),
      '',
    );
    out.push('## Overall (recall in %, latency = MemoryService.search timings.totalMs)', '', overallTable(results), '');
    if (config.embed.cacheSize > 0) {
      out.push(
        '_hybrid runs first, so its embed times are real query embeddings; vector mode then reuses the cached query vectors (embedding cache on)._',
        '',
      );
    }
    for (const [mode, r] of results) out.push(`## Per category — ${mode}`, '', categoryTable(r.report), '');

    let best: SweepRow | undefined;
    if (sweep.length > 0) {
      const r10 = (row: SweepRow) => row.report.overall.means['R@10'] ?? 0;
      const r5 = (row: SweepRow) => row.report.overall.means['R@5'] ?? 0;
      best = [...sweep].sort((a, b) => r10(b) - r10(a) || r5(b) - r5(a))[0];
      const keys = Object.keys(SWEPT) as Swept[];
      const rows = sweep.map((row) => [
        ...keys.map((key, i) => (row === best && i === 0 ? `**${row.settings[key]}**` : String(row.settings[key]))),
        pct(row.report.overall.means['R@5']),
        pct(row.report.overall.means['R@10']),
        pct(row.report.overall.means['R@25']),
        (row.report.overall.means.MRR ?? Number.NaN).toFixed(3),
        ...Object.values(row.report.byCategory).map((agg) => pct(agg.means['R@10'])),
      ]);
      const catHeaders = Object.keys(sweep[0]?.report.byCategory ?? {}).map((c) => `R@10 cat ${c}`);
      out.push(
        '## Search settings sweep (hybrid)',
        '',
        markdownTable([...keys, 'R@5', 'R@10', 'R@25', 'MRR', ...catHeaders], rows),
        '',
      );
      if (best) {
        const chosen = best;
        out.push(
          `Best by R@10 (then R@5): → R@5 ${pct(r5(chosen))}, R@10 ${pct(r10(chosen))}, R@25 ${pct(chosen.report.overall.means['R@25'])}`,
          '',
          `    ${keys.map((key) => `${SWEPT[key].env}=${chosen.settings[key]}`).join(' ')}`,
          '',
        );
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);

    if (args.out) {
      const json = {
        machine: machineInfo(),
        data: {
          path,
          conversations: conversations.length,
          turns: ingested.turns,
          memories: ingested.memories,
          questions: questions.length,
          totalQuestions,
          skipped,
        },
        config: {
          embedder: config.embedder,
          embedBackend: config.embed.backend,
          embedThreads: config.embed.threads ?? null,
          search: config.search,
          limit: LIMIT,
        },
        ingest: { seconds: ingested.seconds, turnsPerSecond: ingested.turns / ingested.seconds },
        modes: Object.fromEntries([...results].map(([mode, r]) => [mode, r])),
        sweep: sweep.map(({ report, settings }) => ({ ...settings, ...report })),
        best: best ? best.settings : null,
        seconds,
      };
      await writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
      log(`wrote ${args.out}`);
    }
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  log(`eval failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
