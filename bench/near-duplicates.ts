/**
 * `npm run bench:dedupe`: how well near-duplicate detection (src/core/near-duplicates.ts) tells
 * paraphrases from distinct facts, on the hand-made fixture test/fixtures/near-duplicates.json.
 *
 * - merge rate: share of paraphrase pairs (every pair within each group of three) detected as
 *   near-duplicates — higher is better;
 * - false-merge rate: share of distinct-but-similar pairs detected as near-duplicates — must stay
 *   low (the target is ≤ 2 %): a false merge loses a fact;
 * - groups folded to one: share of paraphrase groups whose three wordings, added in order, end as
 *   one memory (each later wording matching some earlier one).
 *
 * Prints the configured thresholds' figures and a grid around them, embedding with the configured
 * embedder (default: USE, offline).
 *
 *   node dist/bench/near-duplicates.js [--fixture path]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { type Comparable, compare, type NearDuplicateOptions, signature } from '../src/core/near-duplicates.js';
import { buildParts } from '../src/runtime.js';
import { log, machineTable, markdownTable } from './report.js';

interface Fixture {
  paraphrases: string[][];
  distinct: [string, string][];
}

interface Rates {
  merge: number;
  falseMerge: number;
  folded: number;
  falseMerges: [string, string][];
}

export function rates(fixture: Fixture, item: (text: string) => Comparable, options: NearDuplicateOptions): Rates {
  let pairs = 0;
  let merged = 0;
  let folded = 0;
  for (const group of fixture.paraphrases) {
    const items = group.map(item);
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        pairs++;
        if (compare(items[i] as Comparable, items[j] as Comparable, options).match) merged++;
      }
    }
    const later = items.slice(1);
    if (later.every((b, k) => items.slice(0, k + 1).some((a) => compare(b, a, options).match))) folded++;
  }
  const falseMerges = fixture.distinct.filter(([a, b]) => compare(item(a), item(b), options).match);
  return {
    merge: merged / pairs,
    falseMerge: falseMerges.length / fixture.distinct.length,
    folded: folded / fixture.paraphrases.length,
    falseMerges,
  };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { fixture: { type: 'string' } } });
  const path = args.fixture ?? 'test/fixtures/near-duplicates.json';
  const fixture = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
  const config = loadConfig({ overrides: { logLevel: 'silent' } });
  const { embedder } = buildParts(config);
  await embedder.init();
  try {
    const texts = [...new Set([...fixture.paraphrases.flat(), ...fixture.distinct.flat()])];
    log(`embedding ${texts.length} texts with ${embedder.model}`);
    const vectors = await embedder.embed(texts);
    const items = new Map(
      texts.map((text, i) => [text, { signature: signature(text), vector: vectors[i] as Float32Array }]),
    );
    const item = (text: string) => items.get(text) as Comparable;
    const base: NearDuplicateOptions = {
      minSimilarity: config.memory.nearDuplicateSimilarity,
      minOverlap: config.memory.nearDuplicateOverlap,
      minCoverage: config.memory.nearDuplicateCoverage,
      strictWords: config.memory.nearDuplicateStrictWords,
      candidates: 10,
    };
    const rows: (string | number)[][] = [];
    const pct = (x: number) => (100 * x).toFixed(1);
    for (const minSimilarity of [0.6, 0.7, 0.8, 0.9]) {
      for (const minOverlap of [0.3, 0.5, 0.7]) {
        for (const minCoverage of [0.5, 0.75, 1]) {
          for (const strictWords of [false, true]) {
            const r = rates(fixture, item, { ...base, minSimilarity, minOverlap, minCoverage, strictWords });
            const isDefault =
              minSimilarity === base.minSimilarity &&
              minOverlap === base.minOverlap &&
              minCoverage === base.minCoverage &&
              strictWords === Boolean(base.strictWords);
            rows.push([
              isDefault ? `**${minSimilarity}**` : String(minSimilarity),
              String(minOverlap),
              String(minCoverage),
              strictWords ? 'yes' : 'no',
              pct(r.merge),
              pct(r.folded),
              pct(r.falseMerge),
            ]);
          }
        }
      }
    }
    const chosen = rates(fixture, item, base);
    const out = [
      '# Near-duplicate detection',
      '',
      machineTable(),
      '',
      `Fixture: ${path} — ${fixture.paraphrases.length} paraphrase groups of 3, ${fixture.distinct.length} distinct-but-similar pairs; embedder ${embedder.model}.`,
      '',
      `Configured (similarity ≥ ${base.minSimilarity}, overlap ≥ ${base.minOverlap}, coverage ≥ ${base.minCoverage}): merge rate ${pct(chosen.merge)} %, groups folded to one ${pct(chosen.folded)} %, **false merges ${pct(chosen.falseMerge)} %** (${chosen.falseMerges.length} of ${fixture.distinct.length}).`,
      '',
      markdownTable(
        ['similarity ≥', 'overlap ≥', 'coverage ≥', 'filler only', 'merge %', 'folded %', 'false merge %'],
        rows,
      ),
      '',
      'False merges at the configured thresholds:',
      '',
      ...chosen.falseMerges.map(([a, b]) => `- ${JSON.stringify(a)} ~ ${JSON.stringify(b)}`),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await embedder.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    log(`bench:dedupe failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
}
