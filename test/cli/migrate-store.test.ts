import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HistoryEntry, Memory } from '../../src/core/types.js';
import { createJsonStore } from '../../src/stores/json/index.js';
import { createPostgresStore } from '../../src/stores/postgres/index.js';
import { createSqliteStore } from '../../src/stores/sqlite/index.js';
import type { MemoryStore } from '../../src/stores/store.js';
import { ENGRAM_BIN } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
let dir: string;

async function engram(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [ENGRAM_BIN, ...args], {
      env: { ...process.env, ENGRAM_LOG_LEVEL: 'silent', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** `engram export` of one user from a data dir whose store is given by env. */
async function exported(user: string, env: NodeJS.ProcessEnv): Promise<string> {
  const out = join(dir, `export-${randomBytes(4).toString('hex')}.jsonl`);
  const result = await engram(['export', '--user', user, '--out', out, '--data-dir', join(dir, 'any')], env);
  expect(result.code, result.stderr).toBe(0);
  return readFile(out, 'utf8');
}

beforeAll(async () => {
  dir = await tempDir('engram-migrate-');
  const source = join(dir, 'source');
  // Two users, an update (history with two entries), a deletion (its memory gone).
  for (const [user, content] of [
    ['alice', 'Alice keeps bees on the roof'],
    ['alice', 'Alice moved to Porto in March'],
    ['bob', 'Bob plays the cello on Sundays'],
  ] as const) {
    expect((await engram(['add', content, '--user', user, '--data-dir', source])).code).toBe(0);
  }
  expect((await engram(['add', 'Alice’s old locker code is 4711', '--user', 'alice', '--data-dir', source])).code).toBe(
    0,
  );
  // The update and the deletion go straight to the store (the CLI has no commands for them).
  const store = createSqliteStore({ dataDir: source });
  await store.init();
  try {
    const memories = (await store.list('alice', { filter: { now: new Date().toISOString() }, limit: 10 })).items;
    const porto = memories.find((memory) => memory.content.includes('Porto')) as Memory;
    const locker = memories.find((memory) => memory.content.includes('locker')) as Memory;
    const updated = { ...porto, tags: ['moves'], updatedAt: new Date().toISOString() };
    await store.update(updated, null, entry('update', porto, updated));
    await store.delete('alice', locker.id, entry('delete', locker, null));
  } finally {
    await store.close();
  }
});

function entry(event: HistoryEntry['event'], before: Memory, after: Memory | null): HistoryEntry {
  return {
    id: randomUUID(),
    memoryId: before.id,
    userId: before.userId,
    event,
    before,
    after,
    actor: 'test',
    at: new Date().toISOString(),
    reason: null,
  };
}

/** Every history entry a store holds, deleted memories' included. */
async function allHistory(store: MemoryStore): Promise<HistoryEntry[]> {
  await store.init();
  try {
    const entries: HistoryEntry[] = [];
    for await (const item of store.scanHistory()) entries.push(item);
    return entries;
  } finally {
    await store.close();
  }
}

describe('engram migrate-store', () => {
  it('copies sqlite → json → sqlite with identical exports, and a second run copies nothing', async () => {
    const sqliteA = `sqlite:${join(dir, 'source', 'engram.db')}`;
    const json = `json:${join(dir, 'json')}`;
    const sqliteB = `sqlite:${join(dir, 'back', 'engram.db')}`;
    const first = await engram(['migrate-store', '--from', sqliteA, '--to', json]);
    expect(first.stdout).toContain('copied 3 of 3 memories');
    expect(first.stdout).toContain('the history of 1 deleted memories (2 entries)');
    expect((await engram(['migrate-store', '--from', sqliteA, '--to', json])).stdout).toContain(
      'copied 0 of 3 memories (3 were there already)',
    );
    expect((await engram(['migrate-store', '--from', sqliteA, '--to', json])).stdout).toContain(
      'the history of 0 deleted memories',
    );
    expect((await engram(['migrate-store', '--from', json, '--to', sqliteB])).stdout).toContain('copied 3 of 3');

    for (const user of ['alice', 'bob']) {
      const original = await exported(user, { ENGRAM_SQLITE_PATH: join(dir, 'source', 'engram.db') });
      const roundTrip = await exported(user, { ENGRAM_SQLITE_PATH: join(dir, 'back', 'engram.db') });
      expect(roundTrip).toBe(original);
      expect(original.split('\n').filter(Boolean).length).toBeGreaterThan(user === 'alice' ? 3 : 1);
    }
    // History the exports leave out — the deleted memory's — made the trip too.
    const history = await allHistory(createSqliteStore({ dataDir: join(dir, 'source') }));
    expect(history.map((item) => item.event).sort()).toEqual(['add', 'add', 'add', 'add', 'delete', 'update']);
    expect(await allHistory(createJsonStore({ dataDir: join(dir, 'json') }))).toEqual(history);
    expect(await allHistory(createSqliteStore({ dataDir: join(dir, 'back') }))).toEqual(history);
  });

  it('refuses an unknown store kind with a clear message', async () => {
    const result = await engram(['migrate-store', '--from', 'mongo:x', '--to', `json:${join(dir, 'j2')}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('unknown store "mongo"');
  });

  (postgresUrl ? it : it.skip)(
    `round-trips sqlite → postgres → sqlite with identical exports${postgresUrl ? '' : ' (skipped: set ENGRAM_TEST_POSTGRES_URL)'}`,
    async () => {
      const schema = `m_${randomBytes(6).toString('hex')}`;
      const env = { ENGRAM_POSTGRES_SCHEMA: schema };
      try {
        const to = await engram(
          ['migrate-store', '--from', `sqlite:${join(dir, 'source', 'engram.db')}`, '--to', postgresUrl as string],
          env,
        );
        expect(to.stdout, to.stderr).toContain('copied 3 of 3');
        const back = join(dir, 'from-pg', 'engram.db');
        expect(
          (await engram(['migrate-store', '--from', postgresUrl as string, '--to', `sqlite:${back}`], env)).stdout,
        ).toContain('copied 3 of 3');
        const original = await exported('alice', { ENGRAM_SQLITE_PATH: join(dir, 'source', 'engram.db') });
        expect(await exported('alice', { ENGRAM_STORE: 'postgres', ENGRAM_POSTGRES_URL: postgresUrl, ...env })).toBe(
          original,
        );
        expect(await exported('alice', { ENGRAM_SQLITE_PATH: back })).toBe(original);
        const history = await allHistory(createSqliteStore({ dataDir: join(dir, 'source') }));
        expect(await allHistory(createPostgresStore({ url: postgresUrl as string, schema }))).toEqual(history);
        expect(await allHistory(createSqliteStore({ dataDir: join(dir, 'from-pg') }))).toEqual(history);
      } finally {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  );
});
