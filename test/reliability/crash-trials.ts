/**
 * `npm run crash`: crash trials at scale — by default 100 SIGKILLs per store (sqlite, json, and
 * postgres when ENGRAM_TEST_POSTGRES_URL is set) during concurrent adds, updates and deletes.
 * Prints one row per store for docs/reliability.md and exits 1 if any guarantee broke.
 *
 *   npm run crash -- --trials 100 --stores sqlite,json --seed 20261203
 */
import { Command, Option } from 'commander';
import { machineInfo, markdownTable } from '../../bench/report.js';
import { percentile } from '../../bench/stats.js';
import { type CrashStore, openCrashBench } from './crash-harness.js';

const options = new Command()
  .addOption(new Option('--trials <n>', 'kills per store').default('100'))
  .addOption(new Option('--stores <list>', 'comma-separated: sqlite,json,postgres').default('sqlite,json,postgres'))
  .addOption(new Option('--seed <n>', 'seed of the kill times and operations').default('20261203'))
  .parse()
  .opts<{ trials: string; stores: string; seed: string }>();

const trials = Number(options.trials);
const seed = Number(options.seed);
const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
const stores = options.stores.split(',').filter((store): store is CrashStore => {
  if (store === 'postgres' && !postgresUrl) {
    process.stderr.write('postgres skipped: set ENGRAM_TEST_POSTGRES_URL (scripts/services.sh env)\n');
    return false;
  }
  return ['sqlite', 'json', 'postgres'].includes(store);
});

const rows: (string | number)[][] = [];
let failed = false;
for (const store of stores) {
  const bench = await openCrashBench(store, { seed, ...(postgresUrl && { postgresUrl }) });
  const totals = { add: 0, update: 0, delete: 0, inFlight: 0, applied: 0, problems: 0 };
  const starts: number[] = [];
  const started = performance.now();
  try {
    for (let trial = 1; trial <= trials; trial++) {
      const result = await bench.trial();
      totals.add += result.acknowledged.add;
      totals.update += result.acknowledged.update;
      totals.delete += result.acknowledged.delete;
      totals.inFlight += result.inFlight;
      totals.applied += result.inFlightApplied;
      totals.problems += result.problems.length;
      starts.push(result.startMs);
      for (const problem of result.problems) process.stderr.write(`${store} trial ${trial}: ${problem}\n`);
      process.stderr.write(`\r${store}: ${trial}/${trials} trials, ${totals.problems} problems`);
    }
  } finally {
    await bench.close();
  }
  process.stderr.write('\n');
  failed ||= totals.problems > 0;
  rows.push([
    store,
    trials,
    totals.add,
    totals.update,
    totals.delete,
    `${totals.inFlight} (${totals.applied} applied)`,
    percentile(starts, 50).toFixed(0),
    percentile(starts, 95).toFixed(0),
    totals.problems,
    ((performance.now() - started) / 1000).toFixed(0),
  ]);
}

const machine = machineInfo();
process.stdout.write(`\nCrash trials, seed ${seed}; ${JSON.stringify(machine)}\n\n`);
process.stdout.write(
  `${markdownTable(
    [
      'store',
      'kills',
      'adds acked',
      'updates acked',
      'deletes acked',
      'in flight at kill',
      'restart p50 ms',
      'restart p95 ms',
      'problems',
      'seconds',
    ],
    rows,
    0,
  )}\n`,
);
process.exitCode = failed ? 1 : 0;
