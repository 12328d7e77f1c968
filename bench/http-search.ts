/**
 * `npm run bench:http`: how many hybrid searches a second one `engram serve` answers over HTTP
 * (issue 27), with autocannon, on the default store and embedder. HTTP_MEMORIES (default 100,000)
 * memories over HTTP_USERS (default 100) users are loaded with 512-d vectors supplied, straight
 * into the data directory; then the server starts, every (user, query) pair is searched once so
 * its query embedding is cached, and autocannon sends HTTP_CONNECTIONS (default 16) connections'
 * worth of searches for HTTP_SECONDS (default 20), each with its user's own API key. Keyword
 * searches and `/health` are measured the same way, for the share of the cost that is search.
 * BENCH_SERVER_NODE_ARGS profiles the server (see server-process.ts); HTTP_ONLY=hybrid runs one route.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { KeyStore } from '../src/auth/key-store.js';
import { createEmbedder } from '../src/embed/registry.js';
import { ACTOR, BATCH, configFor, DIM, openPhase } from './context.js';
import { clusteredVectors, memoryTexts, queryTexts } from './gen.js';
import { postJson as post } from './http-client.js';
import { fmt, log, machineTable, markdownTable, progressBar } from './report.js';
import { startServerProcess } from './server-process.js';

const MEMORIES = Number(process.env.HTTP_MEMORIES ?? 100_000);
const USERS = Number(process.env.HTTP_USERS ?? 100);
const CONNECTIONS = Number(process.env.HTTP_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.HTTP_SECONDS ?? 20);
/** Only the routes whose name starts with this (`hybrid`, `keyword`, `GET`), e.g. to profile one. */
const ONLY = process.env.HTTP_ONLY;
/** Distinct queries per user; each (user, query) pair is warmed once, so every timed search hits the cache. */
const QUERIES_PER_USER = 10;

const userId = (u: number) => `user-${u}`;

/** Loads the memories through the service on the data directory the server will open. */
async function load(dataDir: string): Promise<void> {
  const embedder = createEmbedder('use', configFor(dataDir).embed, { cacheSize: 0 });
  await embedder.init();
  const service = await openPhase('sqlite', dataDir, embedder);
  const perUser = Math.floor(MEMORIES / USERS);
  const nextVector = clusteredVectors(27, DIM);
  const bar = progressBar(`loading ${fmt(perUser * USERS)} memories over ${USERS} users`, perUser * USERS);
  try {
    for (let u = 0; u < USERS; u++) {
      const texts = memoryTexts(perUser, 1_000 + u);
      for (let i = 0; i < texts.length; i += BATCH) {
        const batch = texts.slice(i, i + BATCH).map((content) => ({ content, embedding: nextVector() }));
        await service.addMany(userId(u), batch, ACTOR);
        bar.increment(batch.length);
      }
    }
  } finally {
    bar.stop();
    await service.store.close();
    await embedder.close();
  }
}

interface Run {
  name: string;
  result: autocannon.Result;
}

function blast(name: string, url: string, requests: autocannon.Request[]): Promise<Run> {
  log(`${name}: ${CONNECTIONS} connections for ${SECONDS} s …`);
  return autocannon({ url, connections: CONNECTIONS, duration: SECONDS, timeout: 10, requests }).then((result) => ({
    name,
    result,
  }));
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-http-'));
  try {
    await load(dataDir);
    const keyStore = new KeyStore(dataDir);
    const keys: string[] = [];
    for (let u = 0; u < USERS; u++) keys.push((await keyStore.create({ userId: userId(u) })).key);
    const server = await startServerProcess(dataDir);
    try {
      const queries = queryTexts(USERS * QUERIES_PER_USER, 31);
      const pairs = queries.map((query, i) => ({ key: keys[i % USERS] as string, query }));
      log(`warming ${fmt(pairs.length)} (user, query) embeddings …`);
      for (const { key, query } of pairs) await post(server.url, key, '/v1/search', { query, limit: 10 });

      let next = 0;
      const search = (mode: 'hybrid' | 'keyword'): autocannon.Request => ({
        method: 'POST',
        path: '/v1/search',
        setupRequest: (request) => {
          const { key, query } = pairs[next++ % pairs.length] as { key: string; query: string };
          return {
            ...request,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ query, limit: 10, mode }),
          };
        },
      });
      const routes: [string, autocannon.Request][] = [
        ['hybrid search', search('hybrid')],
        ['keyword search', search('keyword')],
        ['GET /health', { method: 'GET', path: '/health' }],
      ];
      const runs: Run[] = [];
      for (const [name, request] of routes) {
        if (!ONLY || name.startsWith(ONLY)) runs.push(await blast(name, server.url, [request]));
      }
      const out = [
        `# HTTP throughput: ${fmt(MEMORIES)} memories over ${USERS} users, one \`engram serve\``,
        '',
        machineTable(),
        '',
        markdownTable(
          ['route', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx'],
          runs.map(({ name, result }) => [
            name,
            fmt(Math.round(result.requests.average)),
            String(result.latency.p50),
            String(result.latency.p99),
            String(result.latency.max),
            fmt(result.errors + result.timeouts),
            fmt(result.non2xx),
          ]),
        ),
        '',
        `autocannon, ${CONNECTIONS} connections, ${SECONDS} s each, from this process (it shares the machine's cores with the server). ` +
          `Searches take turns over ${fmt(pairs.length)} (user, query) pairs, each user with its own key, limit 10; ` +
          'every query embedding was cached by a first search.',
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  log(String((error as Error)?.stack ?? error));
  process.exitCode = 1;
});
