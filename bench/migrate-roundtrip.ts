/**
 * `npm run bench:migrate`: `engram migrate-store` round trip at scale — a sqlite store of
 * BENCH_SCALE × 100,000 memories (100 users, conversations, 1% updated, 1% deleted) is copied to
 * PostgreSQL and back to a new sqlite file by the real CLI; then every user's export (the JSONL of
 * `engram export`) is compared across the three stores, and so is every history entry, deleted
 * memories' included. Prints the timings as markdown; exits non-zero when anything differs.
 *
 * Needs ENGRAM_POSTGRES_URL or ENGRAM_TEST_POSTGRES_URL (e.g. from `scripts/services.sh start`);
 * uses a schema of its own and drops it afterwards.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import type { Actor, MemoryService } from '../src/core/memory-service.js';
import { exportUser } from '../src/core/transfer.js';
import { openService } from '../src/runtime.js';
import type { MemoryStore } from '../src/stores/store.js';
import { clusteredVectors, memoryTexts } from './gen.js';
import { fmt, log, machineTable, markdownTable, progressBar } from './report.js';

const exec = promisify(execFile);
const ENGRAM_BIN = fileURLToPath(new URL('../../bin/engram.js', import.meta.url));
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const COUNT = Math.max(1_000, Math.round(100_000 * SCALE));
const USERS = Array.from({ length: 100 }, (_, i) => `user-${String(i).padStart(3, '0')}`);
const ACTOR: Actor = { name: 'bench', source: 'import' };
const DIM = 512;

const postgresUrl = process.env.ENGRAM_POSTGRES_URL ?? process.env.ENGRAM_TEST_POSTGRES_URL;
if (!postgresUrl) throw new Error('needs ENGRAM_POSTGRES_URL (e.g. from scripts/services.sh start)');
const schema = `bench_migrate_${randomBytes(4).toString('hex')}`;

/** A service over one store; `env` as the CLI would read it. */
function open(env: Record<string, string>, dataDir: string): Promise<MemoryService> {
  return openService(loadConfig({ env: { ...env, ENGRAM_LOG_LEVEL: 'silent' }, overrides: { dataDir } }));
}

/** sha256 over every user's export, in user order, and the number of lines. */
async function exportDigest(service: MemoryService): Promise<{ digest: string; lines: number }> {
  const hash = createHash('sha256');
  let lines = 0;
  for (const user of USERS) {
    for await (const line of exportUser(service, user)) {
      hash.update(line);
      lines++;
    }
  }
  return { digest: hash.digest('hex'), lines };
}

async function historyDigest(store: MemoryStore): Promise<{ digest: string; entries: number }> {
  const hash = createHash('sha256');
  let entries = 0;
  for await (const entry of store.scanHistory()) {
    hash.update(JSON.stringify(entry));
    entries++;
  }
  return { digest: hash.digest('hex'), entries };
}

async function migrate(from: string, to: string): Promise<{ seconds: number; output: string }> {
  const began = performance.now();
  const { stdout } = await exec(process.execPath, [ENGRAM_BIN, 'migrate-store', '--from', from, '--to', to], {
    env: { ...process.env, ENGRAM_POSTGRES_SCHEMA: schema, ENGRAM_LOG_LEVEL: 'warn' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { seconds: (performance.now() - began) / 1000, output: stdout.trim() };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'engram-migrate-bench-'));
  const sqliteA = join(dir, 'a', 'engram.db');
  const sqliteB = join(dir, 'b', 'engram.db');
  try {
    log(`building a sqlite store of ${fmt(COUNT)} memories …`);
    const built = performance.now();
    const source = await open({ ENGRAM_SQLITE_PATH: sqliteA }, join(dir, 'a'));
    const nextVector = clusteredVectors(7, DIM);
    const texts = memoryTexts(COUNT, 7);
    const ids: { user: string; id: string }[] = [];
    const bar = progressBar('build', COUNT);
    for (let i = 0; i < COUNT; i += 100) {
      const user = USERS[(i / 100) % USERS.length] as string;
      const results = await source.addMany(
        user,
        texts.slice(i, i + 100).map((content, j) => ({
          content,
          embedding: nextVector(),
          sessionId: `conversation-${Math.floor((i + j) / 20)}`,
          tags: j % 7 === 0 ? ['weekly'] : [],
          metadata: { n: i + j, source: 'bench' },
        })),
        ACTOR,
      );
      for (const result of results) ids.push({ user, id: result.memory.id });
      bar.increment(results.length);
    }
    bar.stop();
    // 1% updated (history with before/after), 1% deleted (history the export no longer shows).
    for (let i = 0; i < ids.length; i += 50) {
      const { user, id } = ids[i] as { user: string; id: string };
      await source.update(user, id, { tags: ['revised'], metadata: { revised: true } }, ACTOR);
      const doomed = ids[i + 25];
      if (doomed) await source.delete(doomed.user, doomed.id, ACTOR);
    }
    const buildSeconds = (performance.now() - built) / 1000;
    const original = await exportDigest(source);
    const originalHistory = await historyDigest(source.store);
    await source.close();

    log('sqlite → postgres …');
    const toPg = await migrate(`sqlite:${sqliteA}`, postgresUrl as string);
    log('postgres → sqlite …');
    const back = await migrate(postgresUrl as string, `sqlite:${sqliteB}`);
    log('again (resume: nothing left to copy) …');
    const again = await migrate(`sqlite:${sqliteA}`, postgresUrl as string);

    const results: { store: string; export: string; lines: number; history: string; entries: number }[] = [];
    for (const [label, env, dataDir] of [
      ['sqlite (source)', { ENGRAM_SQLITE_PATH: sqliteA }, join(dir, 'a')],
      ['postgres', { ENGRAM_STORE: 'postgres', ENGRAM_POSTGRES_URL: postgresUrl, ENGRAM_POSTGRES_SCHEMA: schema }, dir],
      ['sqlite (round trip)', { ENGRAM_SQLITE_PATH: sqliteB }, join(dir, 'b')],
    ] as [string, Record<string, string>, string][]) {
      const service = await open(env, dataDir);
      const exported = await exportDigest(service);
      const history = await historyDigest(service.store);
      await service.close();
      results.push({
        store: label,
        export: exported.digest.slice(0, 16),
        lines: exported.lines,
        history: history.digest.slice(0, 16),
        entries: history.entries,
      });
    }
    const identical = results.every(
      (row) => row.export === original.digest.slice(0, 16) && row.history === originalHistory.digest.slice(0, 16),
    );

    const out = [
      `# migrate-store round trip (BENCH_SCALE=${SCALE})`,
      '',
      machineTable(),
      '',
      markdownTable(
        ['step', 'seconds', 'memories/s', 'CLI output'],
        [
          [
            'build the sqlite source (addMany, vectors supplied, updates, deletes)',
            buildSeconds,
            COUNT / buildSeconds,
            '',
          ],
          ['sqlite → postgres', toPg.seconds, COUNT / toPg.seconds, toPg.output],
          ['postgres → sqlite', back.seconds, COUNT / back.seconds, back.output],
          ['sqlite → postgres again (resume)', again.seconds, COUNT / again.seconds, again.output],
        ],
      ),
      '',
      markdownTable(
        ['store', 'export sha256', 'export lines', 'history sha256', 'history entries'],
        results.map((row) => [row.store, row.export, row.lines, row.history, row.entries]),
      ),
      '',
      identical
        ? '**Identical**: every user’s export and every history entry match across the three stores.'
        : '**DIFFERENT**: the stores do not match.',
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (!identical) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

await main();
