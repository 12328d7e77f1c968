import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/index.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

const children: ServerProcess[] = [];
afterAll(async () => {
  for (const server of children) if (server.child.exitCode === null) server.child.kill('SIGKILL');
});

const user = { 'x-user-id': 'crash-user', 'content-type': 'application/json' };
/** Short leases and polls, so that the restarted server takes the dead one's job back within seconds. */
const env = { ENGRAM_JOBS_LEASE_MS: '2000', ENGRAM_JOBS_POLL_MS: '100', ENGRAM_KB_ENABLED: 'false' };

async function start(dataDir: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await spawnServer(['--data-dir', dataDir], { ...env, ...extra });
  children.push(server);
  return server;
}

async function stop(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = once(server.child, 'exit');
  server.child.kill(signal);
  await exited;
}

async function job(server: ServerProcess, location: string): Promise<JobView> {
  return (await (await fetch(new URL(location, server.url), { headers: user })).json()) as JobView;
}

async function until(server: ServerProcess, location: string, done: (job: JobView) => boolean): Promise<JobView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const current = await job(server, location);
    if (done(current)) return current;
    if (Date.now() > deadline) throw new Error(`job still ${current.status}:\n${server.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function contents(server: ServerProcess): Promise<string[]> {
  const response = await fetch(`${server.url}/v1/memories?limit=1000`, { headers: user });
  const page = (await response.json()) as { items: { content: string }[]; nextCursor: string | null };
  expect(page.nextCursor).toBeNull();
  return page.items.map((memory) => memory.content);
}

/** A batch of distinct, sentence-like memories that the real embedder has to embed one by one. */
function batch(size: number): { content: string }[] {
  return Array.from({ length: size }, (_, i) => ({
    content:
      `Memory ${i} of the crash batch: on day ${i % 365} the user noted that project ${i * 13} needs ` +
      `${(i * 7) % 100} more hours, that the meeting with team ${i % 17} moved to room ${i % 41}, ` +
      `and that the shopping list gained item number ${i * 3}.`,
  }));
}

describe('background jobs across process death (sqlite store)', () => {
  it('resumes an add job whose server was SIGKILLed while running it; every memory is there exactly once', async () => {
    const dataDir = await tempDir('engram-job-crash-');
    const memories = batch(1_000);
    const first = await start(dataDir);
    const response = await fetch(`${first.url}/v1/memories?async=true`, {
      method: 'POST',
      headers: user,
      body: JSON.stringify({ memories }),
    });
    expect(response.status).toBe(202);
    const location = response.headers.get('location') as string;
    const running = await until(first, location, (current) => current.status !== 'queued');
    expect(running).toMatchObject({ status: 'running', attempts: 1 });
    await stop(first, 'SIGKILL');

    const second = await start(dataDir);
    try {
      const done = await until(
        second,
        location,
        (current) => current.status === 'succeeded' || current.status === 'failed',
      );
      // Attempt 2 is the resumed one: the first never finished.
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect((done.result as { results: unknown[] }).results).toHaveLength(memories.length);
      const stored = await contents(second);
      expect(stored).toHaveLength(memories.length);
      expect(new Set(stored)).toEqual(new Set(memories.map((memory) => memory.content)));
    } finally {
      await stop(second, 'SIGTERM');
    }
  }, 120_000);

  it('runs jobs that were only queued when the server stopped, at the next start', async () => {
    const dataDir = await tempDir('engram-job-queued-');
    // Concurrency 0: this server accepts jobs but runs none (as a replica that only serves requests).
    const first = await start(dataDir, { ENGRAM_JOBS_CONCURRENCY: '0' });
    const response = await fetch(`${first.url}/v1/memories?async=true`, {
      method: 'POST',
      headers: user,
      body: JSON.stringify({ content: 'Queued before the restart, stored after it.' }),
    });
    const location = response.headers.get('location') as string;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await job(first, location)).toMatchObject({ status: 'queued', attempts: 0 });
    await stop(first, 'SIGTERM');

    const second = await start(dataDir);
    try {
      const done = await until(second, location, (current) => current.status === 'succeeded');
      expect(done).toMatchObject({ attempts: 1, result: { duplicate: false } });
      expect(await contents(second)).toEqual(['Queued before the restart, stored after it.']);
    } finally {
      await stop(second, 'SIGTERM');
    }
  }, 60_000);
});
