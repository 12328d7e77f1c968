/**
 * Crash trials: a real `engram serve` process takes concurrent adds, updates and deletes from
 * several users until it is killed with SIGKILL at a random moment; then the store is opened
 * directly and checked against what the server acknowledged. Trials run back to back on one
 * store, so each also restarts the server on the data the last kill left behind.
 *
 * On SQLite every user has an approximate vector index (ENGRAM_SQLITE_ANN_MIN_MEMORIES=1) and the
 * lanes also search, so kills land during index builds too; the check then searches each user's
 * memories by their own vectors through what the kill left (index record and files): every live
 * memory is found first, and nothing deleted or never acknowledged is ever returned.
 *
 * Used by test/reliability/crash.test.ts (a few trials per store) and by `npm run crash`
 * (test/reliability/crash-trials.ts: 100 per store, figures for docs/reliability.md).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { prng } from '../../bench/gen.js';
import { checkSqliteFile } from '../../src/backup/check.js';
import { testConfig } from '../../src/config.js';
import type { HistoryEntry, Memory } from '../../src/core/types.js';
import { buildParts } from '../../src/runtime.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { MemoryStore } from '../../src/stores/store.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';

export type CrashStore = 'sqlite' | 'json' | 'postgres';

/** A memory as the model expects it: its content, or gone. */
type State = { content: string } | 'deleted';

/** How a lane ended: the request it had open when the server died, or a wrong answer. */
type LaneEnd = { open: InFlight | null; error: string | null };

/** What a lane had sent but not seen answered when the server died. */
type InFlight =
  | { kind: 'add'; content: string }
  | { kind: 'update'; id: string; content: string }
  | { kind: 'delete'; id: string };

export interface TrialResult {
  /** Operations acknowledged in this trial, by kind. */
  acknowledged: { add: number; update: number; delete: number };
  /** Operations in flight at the kill, and how many of those the store had applied. */
  inFlight: number;
  inFlightApplied: number;
  /** How long the server ran before the kill, and how long it took to start again. */
  killedAfterMs: number;
  startMs: number;
  /** Every broken guarantee, in words; empty when the trial passed. */
  problems: string[];
  /** On sqlite, how many users had an approximate index recorded when the check searched. */
  indexes: number;
}

/** A vector for an add: sent precomputed, so adds stay fast and the embedder is not the bottleneck. */
function vector(n: number): number[] {
  return Array.from({ length: 512 }, (_, i) => Math.sin(n * 7919 + i));
}

export interface CrashBench {
  readonly store: CrashStore;
  /** Runs one trial: start, write from `lanes` users, kill after a random time, check. */
  trial(): Promise<TrialResult>;
  close(): Promise<void>;
}

export async function openCrashBench(
  store: CrashStore,
  options: {
    seed: number;
    lanes?: number;
    minKillMs?: number;
    maxKillMs?: number;
    postgresUrl?: string;
    /**
     * Runs between the kill and the check, on the dead server's store (tests tamper with it).
     * `live` lists the memories acknowledged as present and not touched by a request the kill cut, so a tamperer can pick one that must be there.
     */
    afterKill?: (where: { dataDir: string; live: { user: string; id: string }[] }) => Promise<void> | void;
  },
): Promise<CrashBench> {
  // Seeded, so a failing trial can be run again with its seed.
  const random = prng(options.seed);
  const lanes = options.lanes ?? 4;
  const minKill = options.minKillMs ?? 100;
  const maxKill = options.maxKillMs ?? 1_500;
  const dataDir = await mkdtemp(join(tmpdir(), `engram-crash-${store}-`));
  const schema = `crash_${options.seed}_${Date.now().toString(36)}`;
  if (store === 'postgres' && !options.postgresUrl) throw new Error('the postgres crash bench needs a database URL');
  const env: NodeJS.ProcessEnv = {
    ENGRAM_STORE: store,
    ENGRAM_RATE_LIMIT_PER_MINUTE: '0',
    ENGRAM_LOG_LEVEL: 'info',
    ...(store === 'sqlite' && { ENGRAM_SQLITE_ANN_MIN_MEMORIES: '1' }),
    ...(store === 'postgres' && { ENGRAM_POSTGRES_URL: options.postgresUrl, ENGRAM_POSTGRES_SCHEMA: schema }),
  };
  const config = testConfig({
    dataDir,
    store,
    ...(store === 'sqlite' && { sqlite: { annMinMemories: 1 } }),
    ...(store === 'postgres' && { postgres: { url: options.postgresUrl, schema } }),
  });

  const expected = new Map<string, Map<string, State>>();
  let counter = 0;

  /** One user's writer: adds, updates and deletes its own memories until the server is gone. */
  async function lane(url: string, user: string, stop: { now: boolean }): Promise<LaneEnd> {
    const mine = expected.get(user) ?? new Map<string, State>();
    expected.set(user, mine);
    const live = () => [...mine].filter(([, state]) => state !== 'deleted').map(([id]) => id);
    const headers = { 'content-type': 'application/json', 'x-user-id': user };
    while (!stop.now) {
      const roll = random();
      const ids = live();
      const target = ids[Math.floor(random() * ids.length)];
      const n = counter++;
      if (store === 'sqlite' && roll > 0.9 && ids.length > 0) {
        // A vector search: on SQLite it starts and extends the user's index build, which kills interrupt.
        try {
          const response = await fetch(`${url}/v1/search`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ query: `memory ${n}`, mode: 'vector', limit: 5 }),
          });
          if (response.status !== 200) throw new Error(`search answered ${response.status}: ${await response.text()}`);
        } catch (error) {
          if (error instanceof TypeError) return { open: null, error: null };
          stop.now = true;
          return { open: null, error: `${user}: ${(error as Error).message}` };
        }
        continue;
      }
      let op: InFlight;
      if (roll < 0.55 || target === undefined) op = { kind: 'add', content: `${user} memory ${n}` };
      else if (roll < 0.8) op = { kind: 'update', id: target, content: `${user} memory ${n}, revised` };
      else op = { kind: 'delete', id: target };
      try {
        if (op.kind === 'add') {
          const response = await fetch(`${url}/v1/memories`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ content: op.content, embedding: vector(n), infer: false }),
          });
          if (response.status !== 201) throw new Error(`add answered ${response.status}: ${await response.text()}`);
          const { memory } = (await response.json()) as { memory: Memory };
          mine.set(memory.id, { content: op.content });
        } else if (op.kind === 'update') {
          const response = await fetch(`${url}/v1/memories/${op.id}`, {
            method: 'PATCH',
            headers,
            body: JSON.stringify({ content: op.content }),
          });
          if (response.status !== 200) throw new Error(`update answered ${response.status}: ${await response.text()}`);
          mine.set(op.id, { content: op.content });
        } else {
          const response = await fetch(`${url}/v1/memories/${op.id}`, { method: 'DELETE', headers });
          const body = (await response.json()) as { deleted?: { id?: string } };
          if (response.status !== 200 || body.deleted?.id !== op.id) {
            throw new Error(`delete answered ${response.status}: ${JSON.stringify(body)}`);
          }
          mine.set(op.id, 'deleted');
        }
        counts[op.kind]++;
      } catch (error) {
        // fetch failed: the server died with this request open. Anything else is a wrong answer.
        if (error instanceof TypeError) return { open: op, error: null };
        stop.now = true;
        return { open: null, error: `${user}: ${(error as Error).message}` };
      }
    }
    return { open: null, error: null };
  }
  let counts = { add: 0, update: 0, delete: 0 };

  async function openStore(): Promise<MemoryStore> {
    const { store: opened } = buildParts(config);
    await opened.init();
    return opened;
  }

  /** Compares the store with the model, resolving each in-flight operation to what the store shows. */
  async function check(
    inFlight: Map<string, InFlight | null>,
  ): Promise<{ problems: string[]; applied: number; indexes: number }> {
    const problems: string[] = [];
    let applied = 0;
    let indexes = 0;
    if (store === 'sqlite') {
      const sqlite = checkSqliteFile(join(dataDir, 'engram.db'));
      problems.push(...sqlite.problems.map((problem) => `integrity: ${problem}`));
      const db = new Database(join(dataDir, 'engram.db'), { readonly: true });
      try {
        indexes = (db.prepare('SELECT count(*) AS n FROM ann_indexes WHERE file IS NOT NULL').get() as { n: number }).n;
      } finally {
        db.close();
      }
    }
    const opened = await openStore();
    try {
      for (const [user, mine] of expected) {
        const observed = new Map<string, { memory: Memory; vector: Float32Array }>();
        for await (const record of opened.scan(user)) observed.set(record.memory.id, record);
        const histories = await opened.historyMany(user, [...new Set([...mine.keys(), ...observed.keys()])]);
        const open = inFlight.get(user) ?? null;
        for (const [id, state] of mine) {
          const seen = observed.get(id);
          const allowed: (string | null)[] = [state === 'deleted' ? null : state.content];
          if (open && open.kind !== 'add' && open.id === id) allowed.push(open.kind === 'delete' ? null : open.content);
          const actual = seen ? seen.memory.content : null;
          if (!allowed.includes(actual)) {
            problems.push(`${user}/${id}: expected ${JSON.stringify(allowed[0])}, found ${JSON.stringify(actual)}`);
          } else if (actual !== allowed[0]) {
            applied++;
            mine.set(id, actual === null ? 'deleted' : { content: actual });
          }
        }
        for (const [id, record] of observed) {
          if (mine.has(id)) continue;
          if (open?.kind === 'add' && record.memory.content === open.content) {
            applied++;
            mine.set(id, { content: open.content });
          } else {
            problems.push(`${user}/${id}: stored but never acknowledged: ${JSON.stringify(record.memory.content)}`);
          }
        }
        // Nothing half-applied: a memory has its vector, and its history ends in its current state.
        for (const [id, state] of mine) {
          problems.push(...halfApplied(`${user}/${id}`, state, observed.get(id), histories.get(id) ?? []));
        }
        problems.push(...(await searchProblems(opened, user, observed)));
      }
      // The check's searches start builds (every sqlite user is past the threshold): let them finish,
      // so the next trial's server starts with recorded indexes and its kills land beside them,
      // however busy the machine (the killed server's own builds may not finish before its kill).
      if (opened instanceof SqliteStore) await opened.ann.idle();
    } finally {
      await opened.close();
    }
    return { problems, applied, indexes };
  }

  let server: ServerProcess | null = null;
  return {
    store,
    async trial() {
      counts = { add: 0, update: 0, delete: 0 };
      const started = performance.now();
      server = await spawnServer(['--data-dir', dataDir], env);
      const startMs = performance.now() - started;
      const stop = { now: false };
      const users = Array.from({ length: lanes }, (_, i) => `user${i}`);
      const running = users.map((user) => lane((server as ServerProcess).url, user, stop));
      const killedAfterMs = minKill + random() * (maxKill - minKill);
      await new Promise((resolve) => setTimeout(resolve, killedAfterMs));
      server.child.kill('SIGKILL');
      await once(server.child, 'exit');
      server = null;
      stop.now = true;
      const ends = await Promise.all(running);
      if (options.afterKill) {
        const open = new Set(ends.flatMap((end) => (end.open && end.open.kind !== 'add' ? [end.open.id] : [])));
        const live = [...expected].flatMap(([user, mine]) =>
          [...mine].filter(([id, state]) => state !== 'deleted' && !open.has(id)).map(([id]) => ({ user, id })),
        );
        await options.afterKill({ dataDir, live });
      }
      const inFlight = new Map(users.map((user, i) => [user, ends[i]?.open ?? null]));
      const { problems, applied, indexes } = await check(inFlight);
      problems.unshift(...ends.flatMap((end) => (end.error ? [end.error] : [])));
      return {
        acknowledged: counts,
        inFlight: ends.filter((end) => end.open).length,
        inFlightApplied: applied,
        killedAfterMs,
        startMs,
        problems,
        indexes,
      };
    },
    async close() {
      if (server) {
        server.child.kill('SIGKILL');
        await once(server.child, 'exit');
      }
      await rm(dataDir, { recursive: true, force: true });
      if (store === 'postgres') {
        const client = new pg.Client({ connectionString: options.postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
      }
    },
  };
}

/** What is wrong with one memory's stored form, if anything: a vector missing or a history out of step. */
function halfApplied(
  name: string,
  state: State,
  record: { memory: Memory; vector: Float32Array } | undefined,
  history: HistoryEntry[],
): string[] {
  const last = history.at(-1);
  if (state === 'deleted') {
    if (record) return [`${name}: deleted but still stored`];
    return last?.event === 'delete' ? [] : [`${name}: deleted, but its history ends in ${last?.event ?? 'nothing'}`];
  }
  const problems: string[] = [];
  if (!record) return [`${name}: missing`];
  if (record.vector.length !== 512 || record.vector.every((x) => x === 0)) problems.push(`${name}: no usable vector`);
  if (!last || last.after?.content !== record.memory.content) {
    problems.push(
      `${name}: history ends in ${JSON.stringify(last?.after?.content)}, memory is ${JSON.stringify(record.memory.content)}`,
    );
  }
  return problems;
}

/**
 * Vector search over what the kill left, up to 12 memories a user: each is found first by its own
 * vector, and every result is a memory the scan sees (none deleted, none from another user).
 */
async function searchProblems(
  store: MemoryStore,
  user: string,
  observed: Map<string, { memory: Memory; vector: Float32Array }>,
): Promise<string[]> {
  const problems: string[] = [];
  const filter = { now: new Date().toISOString() };
  for (const [id, record] of [...observed].slice(-12)) {
    const hits = await store.vectorSearch(user, record.vector, filter, 5);
    if (hits[0]?.id !== id && !(hits[0] && hits[0].similarity >= 1 - 1e-6)) {
      problems.push(`${user}/${id}: not found first by its own vector (found ${JSON.stringify(hits[0]?.id)})`);
    }
    for (const hit of hits) {
      if (!observed.has(hit.id)) problems.push(`${user}: vector search returned ${hit.id}, which is not stored`);
    }
  }
  return problems;
}
