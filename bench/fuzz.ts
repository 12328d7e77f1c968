/**
 * Fuzzing (`npm run fuzz [-- --requests N --seed S --store sqlite|json]`): a real server in this
 * process, then N generated requests one after another, mixing REST, MCP tool calls through the
 * official SDK client (Streamable HTTP) and raw POSTs to /mcp — wrong types, huge strings, deep
 * JSON, invalid UTF-8, unicode edge cases, FTS/SQL syntax, path traversal, odd limits and cursors,
 * unknown fields, wrong content types, malformed JSON. The oracle is bench/fuzz/harness.ts's: no
 * 5xx, no crash, every rejection a 4xx with a stable code, and the store unchanged by every
 * rejected request. Exits 1 when any of that fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import fc from 'fast-check';
import { testConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openService } from '../src/runtime.js';
import { startServer } from '../src/server/server.js';
import { FUZZ_CONFIG, Fuzzer, summarize } from './fuzz/harness.js';
import { fuzzRequest } from './fuzz/requests.js';
import { log, markdownTable, progressBar } from './report.js';

const integer = (min: number) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min) throw new InvalidArgumentError(`an integer ≥ ${min}`);
  return parsed;
};

const options = new Command('fuzz')
  .option('--requests <n>', 'requests to send', integer(1), 10_000)
  .option('--seed <s>', 'fast-check seed (the run is reproducible with it)', integer(0), Date.now() % 2 ** 31)
  .addOption(new Option('--store <name>', 'store backend').choices(['sqlite', 'json']).default('sqlite'))
  .parse()
  .opts<{ requests: number; seed: number; store: 'sqlite' | 'json' }>();

/** Requests are generated in chunks (some carry 2 MiB bodies); chunk i uses seed + i. */
const CHUNK = 100;

const dataDir = await mkdtemp(join(tmpdir(), 'engram-fuzz-'));
const config = testConfig({
  port: 0,
  dataDir,
  store: options.store,
  logLevel: 'silent',
  auth: { mode: 'none' },
  ...FUZZ_CONFIG,
});
const started = performance.now();
const server = await startServer(config, await openService(config), createLogger('silent'));
const fuzzer = new Fuzzer(server.url, server.deps);
await fuzzer.connect();
log(`fuzzing ${server.url} (${options.store}) with ${options.requests} requests, seed ${options.seed}`);

const bar = progressBar('requests', options.requests);
const fuzzStarted = performance.now();
try {
  for (let chunk = 0; chunk * CHUNK < options.requests; chunk++) {
    const count = Math.min(CHUNK, options.requests - chunk * CHUNK);
    for (const request of fc.sample(fuzzRequest, { numRuns: count, seed: options.seed + chunk })) {
      await fuzzer.run(request);
      bar.increment();
    }
  }
} finally {
  bar.stop();
}
const seconds = (performance.now() - fuzzStarted) / 1000;
const health = await fetch(new URL('/health', server.url)).then(
  (response) => response.status,
  () => 0,
);
await fuzzer.close();
await server.close();
await rm(dataDir, { recursive: true, force: true });

const { tally } = fuzzer;
const sortedRows = (counts: Record<string, number>) => Object.entries(counts).sort(([, a], [, b]) => b - a);
const storeUnchanged = tally.storeChanges === 0;
process.stdout.write(
  `\n${markdownTable(
    ['fuzz run', ''],
    [
      ['store', options.store],
      ['seed', String(options.seed)],
      ['requests', tally.total],
      ...Object.entries(tally.byChannel).map(([channel, count]): [string, number] => [`  via ${channel}`, count]),
      ['5xx responses', tally.serverErrors],
      ['crashes (uncaught errors, dropped connections)', tally.crashes + (tally.byStatus['599'] ?? 0)],
      ['oracle violations', tally.violations],
      ['rejected requests checked against the store', tally.rejectedChecked],
      ['store unchanged by every rejection', storeUnchanged ? 'yes' : `no (${tally.storeChanges} changed it)`],
      ['/health after the run', String(health)],
      ['duration s', seconds],
      ['requests/s', tally.total / seconds],
      ['total s (with server start)', (performance.now() - started) / 1000],
    ],
  )}\n\n${markdownTable(
    ['status', 'responses'],
    sortedRows(tally.byStatus).map(([status, count]) => [status, count]),
    0,
  )}\n\n${markdownTable(
    ['error code', 'responses'],
    sortedRows(tally.byCode).map(([code, count]) => [code, count]),
    0,
  )}\n`,
);
for (const report of fuzzer.crashReports.slice(0, 5)) log(`uncaught: ${report}`);
const failed = tally.violations > 0 || tally.crashes > 0 || !storeUnchanged || health !== 200;
if (failed) log(`\nFAILED\n${summarize(tally)}`);
process.exit(failed ? 1 : 0);
