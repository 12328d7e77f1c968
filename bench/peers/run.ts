/**
 * `npm run bench:peers`: Engram beside the memory systems people compare it with, on one
 * generated workload, in one run. Installs the peers into a scratch directory (never into Engram's
 * dependencies), then for each size: single adds, then user-scoped questions, per system.
 *
 *   library rows   Engram's MemoryService and mem0's TypeScript Memory in this process, every user
 *                  of the workload, the same 384-d vectors reached through each one's embedder
 *   MCP rows       `engram mcp` and the reference MCP memory server over stdio, one user each
 *
 * Options: --sizes 1000,10000  --users 100  --queries 100  --systems engram,mem0,engram-mcp,server-memory
 *          --dir <scratch dir for the peers' packages> (default: <tmp>/engram-bench-peers, reused)
 * Markdown report on stdout, progress on stderr.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageVersion } from '../../src/util/paths.js';
import { Bench } from '../context.js';
import { fmt, log, machineTable, markdownTable, mb } from '../report.js';
import { installPeers, PEER_PACKAGES, type Scratch } from './install.js';
import { engramLibrary, mem0Library } from './library.js';
import { engramMcp, referenceMcp } from './mcp.js';
import { measure, type PeerRow, type PeerSystem } from './system.js';
import { PEER_DIM, VectorLookup, type Workload, workload } from './workload.js';

const SYSTEMS = ['engram', 'mem0', 'engram-mcp', 'server-memory'] as const;
type SystemName = (typeof SYSTEMS)[number];

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    users: { type: 'string', default: '100' },
    queries: { type: 'string', default: '100' },
    systems: { type: 'string', default: SYSTEMS.join(',') },
    dir: { type: 'string', default: join(tmpdir(), 'engram-bench-peers') },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes positive whole numbers, got ${text}`);
  return value;
}

const sizes = values.sizes.split(',').map((size) => positive('sizes', size));
const users = positive('users', values.users);
const queries = positive('queries', values.queries);
const systems = values.systems.split(',').map((name) => {
  if (!(SYSTEMS as readonly string[]).includes(name))
    throw new Error(`--systems: ${name} is not one of ${SYSTEMS.join(', ')}`);
  return name as SystemName;
});

function open(name: SystemName, scratch: Scratch, dataDir: string, lookup: VectorLookup): Promise<PeerSystem> {
  const version = packageVersion();
  switch (name) {
    case 'engram':
      return engramLibrary(dataDir, lookup, users, version);
    case 'mem0':
      return mem0Library(scratch, dataDir, lookup, users);
    case 'engram-mcp':
      return engramMcp(dataDir, lookup, version);
    case 'server-memory':
      return referenceMcp(scratch, dataDir);
  }
}

/** The Engram row each row is compared with: the one of the same size reached the same way. */
const baselineOf = (row: PeerRow, rows: readonly PeerRow[]): PeerRow | undefined =>
  rows.find((r) => r.baseline && r.via === row.via && r.memories === row.memories);

function report(rows: readonly PeerRow[], notes: string[], scratch: Scratch, versions: string[]): string {
  const ms = (value: number) => value.toFixed(2);
  const times = (value: number, base: number | undefined) =>
    base === undefined ? '–' : `${(value / base).toFixed(1)}×`;
  return [
    '# Engram beside its peers (`npm run bench:peers`)',
    '',
    machineTable(),
    '',
    markdownTable(
      [
        'system',
        'memories',
        'users',
        'single adds/s',
        'search p50 ms',
        'search p95 ms',
        'search p99 ms',
        'p95 × Engram',
        'results / question',
        'disk MB',
      ],
      rows.map((row) => {
        const base = baselineOf(row, rows);
        return [
          row.system,
          row.memories,
          row.users,
          fmt(row.addsPerSecond),
          ms(row.search.p50),
          ms(row.search.p95),
          ms(row.search.p99),
          times(row.search.p95, base?.search.p95),
          row.meanResults.toFixed(1),
          mb(row.diskBytes).toFixed(1),
        ];
      }),
    ),
    '',
    `_Workload (bench/gen.ts): memory-like sentences, ${PEER_DIM}-d vectors clustered around 1,000 directions; library rows spread the memories over ${users} users ` +
      `and send ${queries} questions to random users (user-scoped), MCP rows keep them in one user. Adds are single adds, one at a time; ` +
      'search times are the whole call from the caller (5 warm-up questions not counted). "p95 × Engram" compares a row with the Engram row of the same size and interface._',
    '',
    `Peers installed in ${scratch.dir}: ${versions.join(', ')}.`,
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const bench = new Bench();
  const needsScratch = systems.some((name) => name === 'mem0' || name === 'server-memory');
  const scratch = await installPeers(values.dir, needsScratch);
  const versions = await Promise.all(
    Object.keys(PEER_PACKAGES).map(
      async (name) => `${name}@${await scratch.version(name as keyof typeof PEER_PACKAGES)}`,
    ),
  );
  const rows: PeerRow[] = [];
  const notes = new Map<SystemName, string>();
  const misses = new Map<SystemName, string[]>();
  try {
    for (const size of sizes) {
      const work: Workload = workload(size, users, queries);
      for (const name of systems) {
        const lookup = new VectorLookup(work.vectors);
        const system = await open(name, scratch, await bench.tempDir(`peers-${name}`), lookup);
        try {
          rows.push(await measure(system, work));
        } finally {
          await system.close();
        }
        notes.set(name, `${system.name}: ${system.how}.`);
        if (lookup.misses > 0)
          misses.set(name, [...(misses.get(name) ?? []), `${fmt(lookup.misses)} at ${fmt(size)} memories`]);
        log(`${system.name} at ${fmt(size)}: done`);
      }
    }
  } finally {
    await bench.removeTempDirs();
  }
  const lines = [...notes.entries()].map(([name, note]) => {
    const extra = misses.get(name);
    return extra
      ? `${note} It also embedded texts of its own (entities it found in memories and questions, answered with one fixed vector): ${extra.join(', ')}.`
      : note;
  });
  process.stdout.write(report(rows, lines, scratch, versions));
}

await main();
