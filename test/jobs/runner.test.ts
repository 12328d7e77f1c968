import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { testConfig } from '../../src/config.js';
import { EngramError } from '../../src/core/errors.js';
import type { Actor, MemoryService } from '../../src/core/memory-service.js';
import type { JsonValue } from '../../src/core/types.js';
import {
  addJob,
  type JobHandler,
  JobQueue,
  JobRegistry,
  JobRunner,
  type JobRunnerOptions,
  type JobView,
} from '../../src/jobs/index.js';
import { openService } from '../../src/runtime.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { MemoryStore } from '../../src/stores/store.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { tempDir } from '../helpers/temp-dir.js';

const actor: Actor = { name: 'test', source: 'api' };
const fast: JobRunnerOptions = { concurrency: 2, maxAttempts: 3, pollMs: 20, leaseMs: 400, backoffMs: 10 };

/** A handler of `kind` (default `test`) that runs `behaviour` for each attempt (given the attempt number). */
function testJob<K extends string = 'test'>(
  behaviour: (attempt: number) => Promise<JsonValue>,
  kind = 'test' as K,
): JobHandler<K, { note: string }, JsonValue> {
  return {
    kind,
    prepare: (_userId, input) => ({ note: input.note }),
    run: (_payload, { job }) => behaviour(job.attempts),
  };
}

const stores: MemoryStore[] = [];
const runners: JobRunner[] = [];

async function sqliteStore(path?: string): Promise<{ store: MemoryStore; path: string }> {
  let file = path;
  if (!file) {
    const dir = await tempDir('engram-jobs-');
    file = join(dir, 'engram.db');
  }
  const store = new SqliteStore({ path: file });
  await store.init();
  stores.push(store);
  return { store, path: file };
}

function run<Q extends JobQueue>(queue: Q, options: Partial<JobRunnerOptions> = {}): JobRunner {
  const runner = new JobRunner(queue, { ...fast, ...options });
  runners.push(runner);
  runner.start();
  return runner;
}

async function finished(queue: JobQueue, userId: string, id: string, timeoutMs = 15_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.get(userId, id);
    if (job.status === 'succeeded' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop(1_000)));
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe('JobRunner', () => {
  it('retries a failing job with backoff and marks it failed after the last attempt, with the reason', async () => {
    const { store } = await sqliteStore();
    const attempts: number[] = [];
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async (attempt) => {
          attempts.push(attempt);
          throw new EngramError('store_locked', `the store was busy (attempt ${attempt})`);
        }),
      ),
    });
    run(queue, { backoffMs: 50 });
    const started = Date.now();
    const job = await queue.enqueue('test', 'alice', { note: 'x' }, actor);
    const done = await finished(queue, 'alice', job.id);
    expect(done).toMatchObject({
      status: 'failed',
      attempts: 3,
      error: { code: 'store_locked', message: 'the store was busy (attempt 3)' },
    });
    expect(done.result).toBeUndefined();
    expect(attempts).toEqual([1, 2, 3]);
    // Backoff 50 ms, then 100 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('keeps the text of unexpected errors (which may hold secrets) out of the job', async () => {
    const { store } = await sqliteStore();
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async () => {
          throw new Error('connect failed: postgres://engram:hunter2@db/engram');
        }),
      ),
    });
    run(queue, { maxAttempts: 1 });
    const job = await queue.enqueue('test', 'alice', { note: 'x' }, actor);
    const done = await finished(queue, 'alice', job.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('internal');
    expect(JSON.stringify(done)).not.toContain('hunter2');
  });

  it('fails at once on an error no retry can fix', async () => {
    const { store } = await sqliteStore();
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async () => {
          throw new EngramError('invalid_request', 'memories[3]: content must not be empty');
        }),
      ),
    });
    run(queue);
    const job = await queue.enqueue('test', 'alice', { note: 'x' }, actor);
    expect(await finished(queue, 'alice', job.id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'invalid_request', message: 'memories[3]: content must not be empty' },
    });
  });

  it('succeeds on a retry after a passing failure, the last error visible while the retry waits', async () => {
    const { store } = await sqliteStore();
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async (attempt) => {
          if (attempt === 1) throw new EngramError('overloaded', 'the embedding queue is full');
          return { attempt };
        }),
      ),
    });
    run(queue, { backoffMs: 300 });
    const job = await queue.enqueue('test', 'alice', { note: 'x' }, actor);
    let waiting: JobView | undefined;
    for (let i = 0; i < 200 && !waiting; i++) {
      const seen = await queue.get('alice', job.id);
      if (seen.status === 'queued' && seen.attempts === 1) waiting = seen;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(waiting?.error).toEqual({ code: 'overloaded', message: 'the embedding queue is full' });
    const done = await finished(queue, 'alice', job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { attempt: 2 } });
    expect(done.error).toBeUndefined();
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const { store } = await sqliteStore();
    let active = 0;
    let most = 0;
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async () => {
          most = Math.max(most, ++active);
          await new Promise((resolve) => setTimeout(resolve, 40));
          active--;
          return null;
        }),
      ),
    });
    run(queue, { concurrency: 2 });
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => queue.enqueue('test', 'alice', { note: String(i) }, actor)),
    );
    for (const job of jobs) expect((await finished(queue, 'alice', job.id)).status).toBe('succeeded');
    expect(most).toBe(2);
  });

  it('picks up jobs queued before a restart', async () => {
    const first = await sqliteStore();
    const registry = () => new JobRegistry().register(testJob(async () => 'done'));
    // No runner in this "process": the jobs only get queued.
    const before = new JobQueue({ store: first.store, registry: registry() });
    const queued = [
      await before.enqueue('test', 'alice', { note: 'a' }, actor),
      await before.enqueue('test', 'bob', { note: 'b' }, actor),
    ];
    await first.store.close();

    const { store } = await sqliteStore(first.path);
    const after = new JobQueue({ store, registry: registry() });
    run(after);
    expect(await finished(after, 'alice', queued[0]?.id as string)).toMatchObject({
      status: 'succeeded',
      result: 'done',
    });
    expect(await finished(after, 'bob', queued[1]?.id as string)).toMatchObject({
      status: 'succeeded',
      result: 'done',
    });
  });

  it('on stop, waits for running jobs within the grace period and leaves the rest to their lease', async () => {
    const { store } = await sqliteStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const queue = new JobQueue({
      store,
      registry: new JobRegistry().register(
        testJob(async () => {
          await gate;
          return 'late';
        }),
      ),
    });
    const runner = new JobRunner(queue, { ...fast, leaseMs: 1_000 });
    runner.start();
    const job = await queue.enqueue('test', 'alice', { note: 'x' }, actor);
    while ((await queue.get('alice', job.id)).status !== 'running') await new Promise((r) => setTimeout(r, 5));
    const stopped = Date.now();
    await runner.stop(100);
    expect(Date.now() - stopped).toBeLessThan(1_000);
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The abandoned attempt recorded nothing: the job waits for its lease to run out.
    expect(await queue.get('alice', job.id)).toMatchObject({ status: 'running', attempts: 1 });
    run(queue);
    expect(await finished(queue, 'alice', job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });
});

describe('add jobs', () => {
  let service: MemoryService;
  let dataDir: string;
  let fake: FakeEmbeddings;
  beforeAll(async () => {
    dataDir = await tempDir('engram-add-jobs-');
    // The deterministic test embedder: the subject is the job's retry, not what the model finds.
    fake = await startFakeEmbeddings();
    const openai = { baseUrl: fake.baseUrl, model: 'test-embedder', dimension: 32 };
    service = await openService(testConfig({ dataDir, logLevel: 'silent', embedder: 'openai', openai }));
  });
  afterAll(async () => {
    await service.close();
    await fake.close();
  });

  it('retried after its insert committed (the result was never recorded), stores no copies', async () => {
    // The first outcome write fails, as if the process died right after the insert committed.
    let failures = 1;
    const real = service.store;
    const store = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'settleJob') {
          return async (...args: Parameters<MemoryStore['settleJob']>) => {
            if (failures-- > 0) throw new EngramError('unavailable', 'the process died');
            return target.settleJob(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const queue = new JobQueue({ store, registry: new JobRegistry().register(addJob(service)) });
    // The retry waits for the lost lease to expire; a lease long enough that a busy machine's pauses
    // (renewals come every third of it) do not lose the retry's lease too.
    run(queue, { leaseMs: 1_500 });
    const contents = Array.from({ length: 20 }, (_, i) => `Retry-safe memory number ${i} about topic ${i * 7}.`);
    const job = await queue.enqueue(
      'add',
      'carol',
      { memories: contents.map((content) => ({ content })), single: false },
      actor,
    );
    const done = await finished(queue, 'carol', job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    // The retry found every item already stored.
    const { results } = done.result as { results: { duplicate: boolean }[] };
    expect(results.every((item) => item.duplicate)).toBe(true);
    const page = await service.list('carol', { limit: 100 });
    expect(page.items.map((memory) => memory.content).sort()).toEqual([...contents].sort());
  });
});

describe('JobQueue.prune (job retention)', () => {
  it('deletes finished jobs past the retention, with their input, and leaves running and queued ones', async () => {
    const { store } = await sqliteStore();
    let now = new Date('2026-01-01T00:00:00.000Z');
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const queue = new JobQueue({
      store,
      clock: () => now,
      registry: new JobRegistry()
        .register(testJob(async () => null))
        // No retry can fix `invalid_request`: it fails at once.
        .register(
          testJob(async () => {
            throw new EngramError('invalid_request', 'not like this');
          }, 'fails'),
        )
        .register(
          testJob(async () => {
            await blocked;
            return null;
          }, 'waits'),
        ),
    });
    run(queue, { concurrency: 1 });
    const ok = await queue.enqueue('test', 'alice', { note: 'a conversation about my health' }, actor);
    const bad = await queue.enqueue('fails', 'bob', { note: 'x' }, actor);
    expect(await finished(queue, 'alice', ok.id)).toMatchObject({ status: 'succeeded' });
    expect(await finished(queue, 'bob', bad.id)).toMatchObject({ status: 'failed' });
    // What the job was given is gone as soon as it finished; what it answered stays until pruned.
    expect((await store.getJob('alice', ok.id))?.payload).toBeNull();
    const waiting = await queue.enqueue('waits', 'alice', { note: 'y' }, actor);
    const behind = await queue.enqueue('test', 'alice', { note: 'z' }, actor);
    await vi.waitFor(async () => expect((await queue.get('alice', waiting.id)).status).toBe('running'));

    const hour = 3_600_000;
    expect(await queue.prune(hour)).toBe(0); // finished just now
    now = new Date(now.getTime() + 2 * hour);
    expect(await queue.prune(hour)).toBe(2);
    await expect(queue.get('alice', ok.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(queue.get('bob', bad.id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await queue.get('alice', waiting.id)).status).toBe('running');
    expect((await queue.get('alice', behind.id)).status).toBe('queued');
    release();
    expect(await finished(queue, 'alice', behind.id)).toMatchObject({ status: 'succeeded' });
  });

  it('prunes in batches until none is left', async () => {
    const { store } = await sqliteStore();
    let now = new Date('2026-01-01T00:00:00.000Z');
    const queue = new JobQueue({
      store,
      clock: () => now,
      registry: new JobRegistry().register(testJob(async () => 1)),
    });
    const runner = run(queue);
    const jobs = [];
    for (let i = 0; i < 7; i++) jobs.push(await queue.enqueue('test', 'alice', { note: `${i}` }, actor));
    for (const job of jobs) await finished(queue, 'alice', job.id);
    await runner.stop(1_000);
    now = new Date(now.getTime() + 60_000);
    expect(await queue.prune(1_000, 3)).toBe(7);
    expect(await store.jobCounts()).toEqual({ queued: 0, running: 0 });
    await expect(queue.get('alice', jobs[6]?.id as string)).rejects.toMatchObject({ code: 'not_found' });
  });
});
