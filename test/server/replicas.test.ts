import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGRAM_BIN, type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Two `engram serve` processes on one PostgreSQL database with a shared Redis: what a deployment
 * of replicas behind a load balancer relies on. Needs ENGRAM_TEST_POSTGRES_URL and
 * ENGRAM_TEST_REDIS_URL (`scripts/services.sh start`); skipped with that reason otherwise.
 */
const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
const redisUrl = process.env.ENGRAM_TEST_REDIS_URL;
const ready = Boolean(postgresUrl && redisUrl);
const HOW = 'set ENGRAM_TEST_POSTGRES_URL and ENGRAM_TEST_REDIS_URL (scripts/services.sh start) to run it';
if (!ready) console.warn(`replica tests skipped: ${HOW}`);

const exec = promisify(execFile);
const LIMIT = 12;

(ready ? describe : describe.skip)(
  `two replicas on one PostgreSQL with Redis${ready ? '' : ` (skipped: ${HOW})`}`,
  () => {
    const schema = `r_${randomBytes(6).toString('hex')}`;
    let dataDir: string;
    let replicas: ServerProcess[] = [];
    let alice: string;
    let bob: string;

    beforeAll(async () => {
      dataDir = await tempDir('engram-replicas-');
      const env = {
        ENGRAM_STORE: 'postgres',
        ENGRAM_POSTGRES_URL: postgresUrl,
        ENGRAM_POSTGRES_SCHEMA: schema,
        ENGRAM_REDIS_URL: redisUrl,
        ENGRAM_RATE_LIMIT_PER_MINUTE: String(LIMIT),
        ENGRAM_MCP_STATELESS: 'true',
        ENGRAM_LOG_LEVEL: 'info',
      };
      const key = async (user: string) =>
        (
          await exec(process.execPath, [ENGRAM_BIN, 'keys', 'create', '--user', user, '--data-dir', dataDir])
        ).stdout.trim();
      alice = await key('alice');
      bob = await key('bob');
      // Both replicas share the data dir only for keys.json; the memories live in PostgreSQL.
      replicas = await Promise.all([0, 1].map(() => spawnServer(['--data-dir', dataDir], env)));
    }, 60_000);
    afterAll(async () => {
      for (const replica of replicas) replica.child.kill('SIGTERM');
      if (postgresUrl) {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    });

    const call = (replica: number, key: string, path: string, body?: unknown) =>
      fetch(new URL(path, replicas[replica]?.url), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });

    it('serves a memory written through one replica from the other at once, to its owner only', async () => {
      const added = await call(0, alice, '/v1/memories', { content: 'Alice is learning the bandoneon' });
      expect(added.status).toBe(201);
      const { memory } = (await added.json()) as { memory: { id: string } };

      const found = await call(1, alice, '/v1/search', { query: 'bandoneon', mode: 'keyword' });
      expect(((await found.json()) as { results: { memory: { id: string } }[] }).results[0]?.memory.id).toBe(memory.id);

      for (const replica of [0, 1]) {
        expect((await call(replica, bob, `/v1/memories/${memory.id}`)).status).toBe(404);
        const search = await call(replica, bob, '/v1/search', { query: 'bandoneon', mode: 'keyword' });
        expect(((await search.json()) as { results: unknown[] }).results).toEqual([]);
        const asAlice = await fetch(new URL('/v1/memories', replicas[replica]?.url), {
          headers: { authorization: `Bearer ${bob}`, 'x-user-id': 'alice' },
        });
        expect([403, 200]).toContain(asAlice.status);
        if (asAlice.status === 200) expect(((await asAlice.json()) as { items: unknown[] }).items).toEqual([]);
      }
    });

    it('shares embeddings: a text one replica embedded is taken from Redis by the other', async () => {
      const sharedHits = async (replica: number) => {
        const text = await (await fetch(new URL('/metrics', replicas[replica]?.url))).text();
        return Number(/^engram_embed_shared_cache_texts_total\{result="hit"\} (\d+)/m.exec(text)?.[1] ?? Number.NaN);
      };
      const content = `Bob tunes his theremin every Sunday (${randomBytes(4).toString('hex')})`;
      const before = await sharedHits(1);
      expect(before).toBeGreaterThanOrEqual(0);
      expect((await call(0, bob, '/v1/memories', { content })).status).toBe(201);
      // The first replica sent the vector to Redis before it stored the memory, so before it answered.
      const search = await call(1, bob, '/v1/search', { query: content, mode: 'vector', limit: 1 });
      expect(search.status).toBe(200);
      await search.text();
      const after = await sharedHits(1);
      expect(after).toBe(before + 1);
    });

    it('shares the rate limit: the request over the limit is refused whichever replica it reaches', async () => {
      const carol = (
        await exec(process.execPath, [ENGRAM_BIN, 'keys', 'create', '--user', 'carol', '--data-dir', dataDir])
      ).stdout.trim();
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT; i++) {
        const response = await call(i % 2, carol, '/v1/memories');
        statuses.push(response.status);
        await response.text();
      }
      expect(statuses.every((status) => status === 200)).toBe(true);
      for (const replica of [0, 1]) {
        const over = await call(replica, carol, '/v1/memories');
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    });
  },
);
