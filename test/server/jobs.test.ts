import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let alice: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  server = await startTestServer({ embeddings: 'test', auth: 'keys' });
  alice = await server.createKey({ userId: 'alice' });
  bob = await server.createKey({ userId: 'bob' });
  admin = await server.createKey({ admin: true });
});
afterAll(async () => {
  await server.close();
});

const headers = (key: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
  ...extra,
});

async function addAsync(key: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/v1/memories?async=true`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify(body),
  });
}

async function getJob(key: string, path: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(path, server.url), { headers: headers(key, extra) });
}

/** Polls the job until it has finished (succeeded or failed). */
async function settled(key: string, path: string): Promise<JobView> {
  for (let i = 0; i < 600; i++) {
    const job = (await (await getJob(key, path)).json()) as JobView;
    if (job.status === 'succeeded' || job.status === 'failed') return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${path} did not finish`);
}

describe('asynchronous add (REST)', () => {
  it('answers 202 with the job and a Location; the job ends with the result a synchronous add returns', async () => {
    const response = await addAsync(alice, { content: 'Alice waters the ferns on Sundays.', tags: ['plants'] });
    expect(response.status).toBe(202);
    const { job } = (await response.json()) as { job: JobView };
    expect(job).toMatchObject({ kind: 'add', attempts: 0, status: 'queued' });
    expect(response.headers.get('location')).toBe(`/v1/jobs/${job.id}`);

    const done = await settled(alice, `/v1/jobs/${job.id}`);
    expect(done).toMatchObject({ id: job.id, kind: 'add', status: 'succeeded', attempts: 1 });
    expect(done.error).toBeUndefined();
    const result = done.result as { memory: { id: string; content: string; tags: string[] }; duplicate: boolean };
    expect(result).toMatchObject({ duplicate: false, memory: { content: 'Alice waters the ferns on Sundays.' } });
    const stored = await fetch(`${server.url}/v1/memories/${result.memory.id}`, { headers: headers(alice) });
    expect(await stored.json()).toEqual(result.memory);

    // The same content added synchronously now is a duplicate of what the job stored.
    const sync = await fetch(`${server.url}/v1/memories`, {
      method: 'POST',
      headers: headers(alice),
      body: JSON.stringify({ content: 'Alice waters the ferns on Sundays.', tags: ['plants'] }),
    });
    expect(await sync.json()).toEqual({ memory: result.memory, duplicate: true, merged: false });
  });

  it('forgetting the memory a job added removes the job too: its result held the content', async () => {
    const response = await addAsync(alice, { content: 'Alice keeps the spare key under the blue pot.' });
    const location = response.headers.get('location') as string;
    const done = await settled(alice, location);
    const { memory } = done.result as { memory: { id: string } };
    const other = await settled(
      alice,
      (await addAsync(alice, { content: 'Alice owns a bike.' })).headers.get('location') as string,
    );

    const forget = await fetch(`${server.url}/v1/memories/${memory.id}/forget`, {
      method: 'POST',
      headers: headers(alice),
    });
    expect(forget.status).toBe(200);
    const gone = await getJob(alice, location);
    expect(gone.status).toBe(404);
    expect(await gone.text()).not.toMatch(/blue pot/);
    expect(await (await getJob(alice, `/v1/jobs/${other.id}`)).json()).toMatchObject({ status: 'succeeded' });
  });

  it('takes batches, with {results} as the sync batch answers', async () => {
    const response = await addAsync(alice, {
      memories: [{ content: 'Batch one: the boiler is serviced in May.' }, { content: 'Batch two: the car is blue.' }],
    });
    expect(response.status).toBe(202);
    const done = await settled(alice, response.headers.get('location') as string);
    const { results } = done.result as { results: { memory: { content: string }; duplicate: boolean }[] };
    expect(results.map((item) => [item.memory.content, item.duplicate])).toEqual([
      ['Batch one: the boiler is serviced in May.', false],
      ['Batch two: the car is blue.', false],
    ]);
  });

  it('refuses at once, with the 400 a synchronous add gives, what a synchronous add would refuse', async () => {
    const before = await server.deps.service.store.jobCounts();
    for (const body of [
      { content: '   ' },
      { content: 'wrong vector', embedding: [1, 2, 3] },
      { memories: [{ content: 'fine' }, { content: 'bad', category: '../up' }] },
      { content: 'unknown field', colour: 'red' },
    ]) {
      const response = await addAsync(alice, body);
      const sync = await fetch(`${server.url}/v1/memories`, {
        method: 'POST',
        headers: headers(alice),
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual(await sync.json());
    }
    expect(await server.deps.service.store.jobCounts()).toEqual(before);
  });

  it("is per user: another user's key gets 404; an admin key acts for the owner through X-User-ID", async () => {
    const response = await addAsync(alice, { content: 'Alice has a private job.' });
    const location = response.headers.get('location') as string;
    await settled(alice, location);

    const other = await getJob(bob, location);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await getJob(admin, location, { 'x-user-id': 'alice' })).status).toBe(200);
    expect((await getJob(admin, location, { 'x-user-id': 'bob' })).status).toBe(404);
    expect((await getJob(bob, '/v1/jobs/no-such-job')).status).toBe(404);

    // An admin enqueues for a user the same way.
    const forBob = await fetch(`${server.url}/v1/memories?async=true`, {
      method: 'POST',
      headers: headers(admin, { 'x-user-id': 'bob' }),
      body: JSON.stringify({ content: 'Bob was added by an admin.' }),
    });
    expect(forBob.status).toBe(202);
    const done = await settled(bob, forBob.headers.get('location') as string);
    expect(done.result).toMatchObject({ memory: { userId: 'bob', content: 'Bob was added by an admin.' } });
  });

  it('counts jobs in /metrics by kind and status, with the queue depth', async () => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: headers(admin) })).text();
    expect(text).toMatch(/engram_jobs_total\{kind="add",status="queued"\} [1-9]/);
    expect(text).toMatch(/engram_jobs_total\{kind="add",status="succeeded"\} [1-9]/);
    expect(text).toMatch(/engram_jobs_queue_depth\{status="queued"\} 0/);
    expect(text).toMatch(/engram_jobs_queue_depth\{status="running"\} 0/);
  });
});

describe('job retention (ENGRAM_JOBS_RETENTION_HOURS)', () => {
  it('the sweeper deletes a finished job once its retention has passed; it is then 404', async () => {
    // 0.0005 h = 1.8 s, swept every second.
    const short = await startTestServer({
      embeddings: 'test',
      auth: 'keys',
      config: { memory: { sweepIntervalSeconds: 1 }, jobs: { retentionHours: 0.0005 } },
    });
    try {
      const key = await short.createKey({ userId: 'alice' });
      const response = await fetch(`${short.url}/v1/memories?async=true`, {
        method: 'POST',
        headers: headers(key),
        body: JSON.stringify({ content: 'Alice keeps her passport in the blue drawer.' }),
      });
      const { job } = (await response.json()) as { job: JobView };
      const path = new URL(`/v1/jobs/${job.id}`, short.url);
      let status = 0;
      const seen = new Set<string>();
      for (let i = 0; i < 400 && status !== 404; i++) {
        const answer = await fetch(path, { headers: headers(key) });
        status = answer.status;
        if (status === 200) seen.add(((await answer.json()) as JobView).status);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(status).toBe(404);
      // It had finished (and was readable, with its result) before it went.
      expect(seen.has('succeeded')).toBe(true);
      expect(seen.has('failed')).toBe(false);
      // The memory the job stored stays: only the job's record went.
      const list = await fetch(`${short.url}/v1/memories`, { headers: headers(key) });
      const { items } = (await list.json()) as { items: { content: string }[] };
      expect(items.map((memory) => memory.content)).toEqual(['Alice keeps her passport in the blue drawer.']);
    } finally {
      await short.close();
    }
  });
});
