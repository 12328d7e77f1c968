import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWriteBurst } from '../helpers/write-burst.js';

/**
 * Two `engram serve` processes on one data directory — the setup that made other file-based
 * memory layers drop each other's writes. Both take writes for the same users at once; then
 * each must list every write either of them acknowledged, and find the other's by search.
 */
const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
  }
});

/** Two `engram serve` processes on one data directory (stopped after the file). */
async function twoServers(dataDir: string, env: NodeJS.ProcessEnv): Promise<[ServerProcess, ServerProcess]> {
  const first = await spawnServer(['--data-dir', dataDir], env);
  servers.push(first);
  const second = await spawnServer(['--data-dir', dataDir], env);
  servers.push(second);
  return [first, second];
}

function vector(seed: number): number[] {
  return Array.from({ length: 512 }, (_, i) => Math.cos(seed * 104_729 + i));
}

async function listIds(url: string, user: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await fetch(`${url}/v1/memories?limit=100${query}`, { headers: { 'x-user-id': user } });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: { id: string }[]; nextCursor: string | null };
    ids.push(...page.items.map((item) => item.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe.each(['sqlite', 'json'] as const)('two servers on one %s data directory', (store) => {
  it('lose no write: each lists every memory either acknowledged, and searches the other’s', async () => {
    const dataDir = await tempDir(`engram-two-${store}-`);
    const env = { ENGRAM_STORE: store, ENGRAM_RATE_LIMIT_PER_MINUTE: '0' };
    const [first, second] = await twoServers(dataDir, env);

    // The same four users write through both servers at once.
    const bursts = [first, second].map((server, s) =>
      startWriteBurst(server.url, 4, (n, lane) => ({
        content: `write ${n} of lane ${lane} through the ${s === 0 ? 'northern' : 'southern'} server`,
        embedding: vector(s * 1_000_000 + n),
        infer: false,
      })),
    );
    await Promise.all(bursts.map((burst) => burst.reached(120)));
    await Promise.all(bursts.map((burst) => burst.stop()));

    for (let lane = 0; lane < 4; lane++) {
      const user = `user${lane}`;
      const acknowledged = bursts.flatMap((burst) => burst.acknowledged.get(user) ?? []).sort();
      expect(acknowledged.length).toBeGreaterThan(20);
      for (const server of [first, second]) {
        expect((await listIds(server.url, user)).sort(), `${user} via ${server.url}`).toEqual(acknowledged);
      }
    }

    // A memory written through the second server is found by keyword search on the first.
    const search = await fetch(`${first.url}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'user0' },
      body: JSON.stringify({ query: 'southern', mode: 'keyword', limit: 5 }),
    });
    expect(search.status).toBe(200);
    const { results } = (await search.json()) as { results: { memory: { content: string } }[] };
    expect(results).toHaveLength(5);
    expect(results.every((result) => result.memory.content.endsWith('the southern server'))).toBe(true);
  }, 120_000);
});

describe.each(['sqlite', 'json'] as const)('two servers on one %s store, the same content', (store) => {
  it('store it once: the same content sent to both at the same moment is one memory, the other a duplicate', async () => {
    const dataDir = await tempDir(`engram-two-dedupe-${store}-`);
    const env = { ENGRAM_STORE: store, ENGRAM_RATE_LIMIT_PER_MINUTE: '0' };
    const [first, second] = await twoServers(dataDir, env);
    const add = async (url: string, content: string, seed: number) => {
      const response = await fetch(`${url}/v1/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'carol' },
        body: JSON.stringify({ content, embedding: vector(seed), infer: false }),
      });
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      return (await response.json()) as { memory: { id: string }; duplicate: boolean };
    };
    for (let round = 0; round < 40; round++) {
      const content = `the same fact number ${round % 30}, sent twice at once`;
      const [a, b] = await Promise.all([add(first.url, content, round), add(second.url, content, round)]);
      // Both answers name the one memory that holds it.
      expect(a.memory.id).toBe(b.memory.id);
    }
    for (const server of [first, second]) expect(await listIds(server.url, 'carol')).toHaveLength(30);
  }, 120_000);
});

describe('two servers on one knowledge base', () => {
  it('give notes with one title distinct paths and commit every note, over many rounds', async () => {
    const dataDir = await tempDir('engram-two-kb-');
    const env = { ENGRAM_RATE_LIMIT_PER_MINUTE: '0' };
    const [first, second] = await twoServers(dataDir, env);
    const note = async (url: string, user: string, title: string, body: string) => {
      const response = await fetch(`${url}/v1/kb/notes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user },
        body: JSON.stringify({ title, body }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
      return ((await response.json()) as { note: { path: string }; commit: string }).note.path;
    };
    const paths: string[] = [];
    for (let round = 0; round < 25; round++) {
      // Two users, the same title, the same moment, through different servers.
      paths.push(
        ...(await Promise.all([
          note(first.url, 'alice', `Plan ${round}`, `# Plan\nalice's plan ${round}`),
          note(second.url, 'bob', `Plan ${round}`, `# Plan\nbob's plan ${round}`),
        ])),
      );
    }
    expect(new Set(paths).size).toBe(50);
    // Every note is committed, with the text its writer sent.
    const { execFileSync } = await import('node:child_process');
    const git = (...args: string[]) => execFileSync('git', ['-C', join(dataDir, 'kb'), ...args]).toString();
    const tracked = git('ls-files', 'topics').trim().split('\n');
    expect(tracked.sort()).toEqual([...paths].sort());
    expect(git('status', '--porcelain').trim()).toBe('');
    for (let round = 0; round < 25; round++) {
      const [a, b] = [paths[2 * round] as string, paths[2 * round + 1] as string];
      expect(git('show', `HEAD:${a}`)).toContain(`alice's plan ${round}`);
      expect(git('show', `HEAD:${b}`)).toContain(`bob's plan ${round}`);
    }
  }, 180_000);
});
