/**
 * `npm run load`: a steady-rate load test with autocannon against a real `engram serve` process
 * (sqlite, the default embedder): searches and adds at fixed rates for `--minutes` (default 10),
 * with requests over the body limit mixed in. Prints latency percentiles, errors and the server's
 * resident memory over time, for docs/reliability.md; exits 1 on any error, on a limit answered
 * with anything but 413, or when RSS grew 10% or more after the warm-up.
 *
 *   npm run load -- --minutes 10 --search-rate 40 --add-rate 10
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Command, Option } from 'commander';
import { machineInfo, markdownTable } from '../../bench/report.js';
import { spawnServer } from '../helpers/process.js';

const options = new Command()
  .addOption(new Option('--minutes <n>', 'how long the load runs').default('10'))
  .addOption(new Option('--search-rate <n>', 'searches per second').default('40'))
  .addOption(new Option('--add-rate <n>', 'adds per second').default('10'))
  .addOption(new Option('--oversize-rate <n>', 'requests over the body limit per second').default('2'))
  .addOption(new Option('--seed-memories <n>', 'memories stored before the load').default('1000'))
  .parse()
  .opts<{ minutes: string; searchRate: string; addRate: string; oversizeRate: string; seedMemories: string }>();

const seconds = Math.round(Number(options.minutes) * 60);
const WARM_UP_S = Math.min(60, Math.floor(seconds / 5));
const TOPICS = ['garden', 'climbing', 'tea', 'bicycle', 'piano', 'taxes', 'dentist', 'holiday', 'books', 'running'];
const USERS = ['load0', 'load1', 'load2', 'load3'];

const dataDir = await mkdtemp(join(tmpdir(), 'engram-load-'));
const server = await spawnServer(['--data-dir', dataDir], {
  ENGRAM_RATE_LIMIT_PER_MINUTE: '0',
  ENGRAM_MAX_BODY_BYTES: '65536',
});
const pid = server.child.pid as number;

/** The server's resident set, in MiB, from /proc (Linux). */
function rssMiB(): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

try {
  // Some memories for every user first, embedded by the server, so searches have work to do.
  const perUser = Math.ceil(Number(options.seedMemories) / USERS.length);
  for (const user of USERS) {
    for (let from = 0; from < perUser; from += 250) {
      const memories = Array.from({ length: Math.min(250, perUser - from) }, (_, i) => ({
        content: `${user} note ${from + i}: something about ${TOPICS[(from + i) % TOPICS.length]} and day ${from + i}`,
        infer: false,
      }));
      const response = await fetch(`${server.url}/v1/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user },
        body: JSON.stringify({ memories }),
      });
      if (response.status !== 201) throw new Error(`seeding answered ${response.status}: ${await response.text()}`);
    }
  }
  process.stderr.write(`seeded ${perUser * USERS.length} memories; load for ${seconds} s\n`);

  const samples: { at: number; rss: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => samples.push({ at: (Date.now() - started) / 1000, rss: rssMiB() }), 5_000);
  let n = 0;
  const headers = (user: string) => ({ 'content-type': 'application/json', 'x-user-id': user });
  const run = (name: string, rate: number, connections: number, request: autocannon.Request) =>
    autocannon({
      url: server.url,
      title: name,
      connections,
      overallRate: rate,
      duration: seconds,
      timeout: 10,
      requests: [request],
    }).then((result) => ({ name, result }));
  const runs = await Promise.all([
    run('search (hybrid)', Number(options.searchRate), 8, {
      method: 'POST',
      path: '/v1/search',
      setupRequest: (request) => {
        const i = n++;
        return {
          ...request,
          headers: headers(USERS[i % USERS.length] as string),
          body: JSON.stringify({ query: `what about ${TOPICS[i % TOPICS.length]} on day ${i % 97}`, limit: 10 }),
        };
      },
    }),
    run('add', Number(options.addRate), 4, {
      method: 'POST',
      path: '/v1/memories',
      setupRequest: (request) => {
        const i = n++;
        return {
          ...request,
          headers: headers(USERS[i % USERS.length] as string),
          body: JSON.stringify({
            content: `load memory ${i}: ${TOPICS[i % TOPICS.length]} came up again`,
            infer: false,
          }),
        };
      },
    }),
    run('over the body limit', Number(options.oversizeRate), 1, {
      method: 'POST',
      path: '/v1/memories',
      headers: headers('load0'),
      body: JSON.stringify({ content: 'x'.repeat(70_000) }),
    }),
  ]);
  clearInterval(sampler);
  const alive = await fetch(`${server.url}/health`);

  let failed = alive.status !== 200;
  const rows = runs.map(({ name, result }) => {
    const oversize = name === 'over the body limit';
    const statuses = result.statusCodeStats as Record<string, { count: number }>;
    const wrong = oversize
      ? result.requests.total - (statuses['413']?.count ?? 0)
      : result.non2xx + result.errors + result.timeouts;
    if (wrong > 0) failed = true;
    return [
      name,
      result.requests.total,
      (result.requests.total / seconds).toFixed(1),
      oversize ? `${statuses['413']?.count ?? 0} × 413` : result['2xx'],
      wrong,
      result.latency.p50,
      result.latency.p97_5,
      result.latency.p99,
      result.latency.max,
    ];
  });
  const afterWarmUp = samples.filter((sample) => sample.at >= WARM_UP_S);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  const first = median(afterWarmUp.slice(0, 6).map((sample) => sample.rss));
  const last = median(afterWarmUp.slice(-6).map((sample) => sample.rss));
  const growth = ((last - first) / first) * 100;
  if (!(growth < 10)) failed = true;

  process.stdout.write(`\nLoad test, ${seconds} s; ${JSON.stringify(machineInfo())}\n\n`);
  process.stdout.write(
    `${markdownTable(
      ['workload', 'requests', 'per s', 'answered', 'errors', 'p50 ms', 'p97.5 ms', 'p99 ms', 'max ms'],
      rows,
      0,
    )}\n\n`,
  );
  const peak = Math.max(...samples.map((sample) => sample.rss));
  process.stdout.write(
    `RSS after ${WARM_UP_S} s warm-up ${first.toFixed(0)} MiB, at the end ${last.toFixed(0)} MiB ` +
      `(growth ${growth.toFixed(1)}%), peak ${peak.toFixed(0)} MiB; /health after the run: ${alive.status}\n`,
  );
  process.stdout.write(
    `RSS every 30 s (MiB): ${samples
      .filter((_, i) => i % 6 === 5)
      .map((sample) => sample.rss.toFixed(0))
      .join(' ')}\n`,
  );
  process.exitCode = failed ? 1 : 0;
} finally {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
}
