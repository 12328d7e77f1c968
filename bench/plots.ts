/**
 * `npm run plots`: draws the figures in docs/images from the JSON the benchmarks write
 * (`GROWTH_JSON=docs/images/measured/growth-sqlite.json npm run bench:growth`, one file per store),
 * as SVG with Vega-Lite, so the pictures always come from a recorded run:
 *
 *   bench-ingest-growth.svg   memories/s of each slice as one user grows, per store
 *   bench-search-growth.svg   search p95 (excluding the query embedding) per mode as one user grows
 *
 * Options: --data <dir> (default docs/images/measured), --out <dir> (default docs/images).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { log } from './report.js';

interface GrowthFigures {
  store: string;
  machine: { cpu: string; cores: number; node: string; date: string };
  slices: {
    from: number;
    to: number;
    perSecond: number;
    search: Partial<Record<'keyword' | 'vector' | 'hybrid', { p50: number; p95: number }>>;
  }[];
}

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join('docs', 'images', 'measured') },
    out: { type: 'string', default: join('docs', 'images') },
  },
});

async function readGrowth(dir: string): Promise<GrowthFigures[]> {
  const files = (await readdir(dir)).filter((file) => /^growth-.+\.json$/.test(file)).sort();
  if (files.length === 0)
    throw new Error(`no growth-*.json in ${dir}: run GROWTH_JSON=${dir}/growth-sqlite.json npm run bench:growth`);
  return Promise.all(files.map(async (file) => JSON.parse(await readFile(join(dir, file), 'utf8')) as GrowthFigures));
}

/** Where and when the figures were measured, for a chart's subtitle. */
const measured = (runs: readonly GrowthFigures[]): string[] =>
  runs.map(
    (run) =>
      `${run.store}: ${run.machine.cores}-core ${run.machine.cpu}, Node.js ${run.machine.node}, ${run.machine.date.slice(0, 10)}`,
  );

/** One layer of a layered chart. */
type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

/** A line per series against the user's size, with a dashed reference line (a target) over it. */
function growthChart(chart: {
  title: string;
  subtitle: string[];
  points: Record<string, unknown>[];
  y: { field: string; title: string; scale: { zero: boolean } | { type: 'log' } };
  series: { field: string; title: string };
  reference: Layer;
}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: chart.title, subtitle: chart.subtitle },
    width: 560,
    height: 260,
    layer: [
      {
        data: { values: chart.points },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'memories', type: 'quantitative', axis: { title: 'memories in the user', format: '~s' } },
          y: { ...chart.y, type: 'quantitative' },
          color: { ...chart.series, type: 'nominal' },
        },
      },
      chart.reference,
    ],
  };
}

function ingestChart(runs: readonly GrowthFigures[]): TopLevelSpec {
  // Target: every slice within 1.5× the first's time per memory, i.e. at least first / 1.5 memories/s.
  const floors = runs.map((run) => ({ store: run.store, floor: (run.slices[0]?.perSecond ?? 0) / 1.5 }));
  return growthChart({
    title: 'Ingest as one user grows (batches of 100, vectors supplied, never restarted)',
    subtitle: ["dashed: the target floor, the first slice's rate / 1.5", ...measured(runs)],
    points: runs.flatMap((run) =>
      run.slices.map((slice) => ({ store: run.store, memories: slice.to, perSecond: Math.round(slice.perSecond) })),
    ),
    y: { field: 'perSecond', title: 'memories/s in the slice', scale: { zero: true } },
    series: { field: 'store', title: 'store' },
    reference: {
      data: { values: floors },
      mark: { type: 'rule', strokeDash: [6, 4] },
      encoding: { y: { field: 'floor', type: 'quantitative' }, color: { field: 'store', type: 'nominal' } },
    },
  });
}

function searchChart(runs: readonly GrowthFigures[]): TopLevelSpec {
  return growthChart({
    title: 'Search p95 as one user grows (limit 10, excluding the query embedding)',
    subtitle: ['dashed: the 20 ms target at 1M memories', ...measured(runs)],
    points: runs.flatMap((run) =>
      run.slices.flatMap((slice) =>
        Object.entries(slice.search).map(([mode, summary]) => ({
          series: runs.length > 1 ? `${run.store} ${mode}` : mode,
          memories: slice.to,
          p95: Number(summary.p95.toFixed(2)),
        })),
      ),
    ),
    y: { field: 'p95', title: 'p95 ms (log scale)', scale: { type: 'log' } },
    series: { field: 'series', title: 'mode' },
    reference: {
      data: { values: [{}] },
      mark: { type: 'rule', strokeDash: [6, 4], color: 'gray' },
      encoding: { y: { datum: 20 } },
    },
  });
}

async function render(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  await writeFile(file, await view.toSVG());
  view.finalize();
  log(`wrote ${file}`);
}

async function main(): Promise<void> {
  const runs = await readGrowth(values.data);
  await render(ingestChart(runs), join(values.out, 'bench-ingest-growth.svg'));
  if (runs.some((run) => run.slices.some((slice) => Object.keys(slice.search).length > 0)))
    await render(searchChart(runs), join(values.out, 'bench-search-growth.svg'));
}

await main();
