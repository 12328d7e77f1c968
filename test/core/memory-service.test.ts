import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { EngramError } from '../../src/core/errors.js';
import type { Actor, MemoryService } from '../../src/core/memory-service.js';
import { openService } from '../../src/runtime.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';

const actor: Actor = { name: 'test', source: 'api' };
let dataDir: string;
let service: MemoryService;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'engram-service-'));
  service = await openService(testConfig({ dataDir, logLevel: 'silent' }));
});
afterAll(async () => {
  await service?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('MemoryService', () => {
  it('stores duplicates within one batch once, and flags the copies', async () => {
    const results = await service.addMany(
      'u1',
      [{ content: 'likes jazz' }, { content: 'likes  jazz ' }, { content: 'likes rock' }],
      actor,
    );
    expect(results.map((r) => r.duplicate)).toEqual([false, true, false]);
    expect(results[1]?.memory.id).toBe(results[0]?.memory.id);
    expect((await service.list('u1')).items).toHaveLength(2);
  });

  it('keeps the same content apart for different users', async () => {
    const a = await service.add('u2', { content: 'shared sentence' }, actor);
    const b = await service.add('u3', { content: 'shared sentence' }, actor);
    expect(a.duplicate || b.duplicate).toBe(false);
    expect(a.memory.id).not.toBe(b.memory.id);
  });

  it('rejects a whole batch when one item is invalid, naming it', async () => {
    const attempt = service.addMany('u4', [{ content: 'ok' }, { content: 'x'.repeat(40_000) }], actor);
    await expect(attempt).rejects.toThrow(/memories\[1\]: content/);
    expect((await service.list('u4')).items).toEqual([]);
  });

  it('hides expired memories unless asked, and finds them again with includeExpired', async () => {
    await service.add('u5', { content: 'temporary door code 4242', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    await service.add('u5', { content: 'permanent door colour is green' }, actor);
    const hits = await service.search('u5', { query: 'door code', mode: 'keyword' });
    expect(hits.results.map((r) => r.memory.content)).toEqual(['permanent door colour is green']);
    const all = await service.search('u5', { query: 'door code', mode: 'keyword', filter: { includeExpired: true } });
    expect(all.results[0]?.memory.content).toBe('temporary door code 4242');
  });

  it('refuses an update that would duplicate another memory', async () => {
    const first = await service.add('u6', { content: 'owns a bicycle' }, actor);
    const second = await service.add('u6', { content: 'owns a car' }, actor);
    await expect(service.update('u6', second.memory.id, { content: 'owns a  bicycle' }, actor)).rejects.toMatchObject({
      code: 'conflict',
      details: { existingId: first.memory.id },
    });
  });

  it('checks supplied embeddings against the model dimension', async () => {
    await expect(service.add('u7', { content: 'x', embedding: [1, 2, 3] }, actor)).rejects.toThrow(/512/);
  });
});

describe('embedding model guard', () => {
  it('refuses to open a store whose vectors came from another model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engram-mismatch-'));
    try {
      const store = new SqliteStore({ path: join(dir, 'engram.db') });
      await store.init();
      await store.setEmbeddingInfo({ model: 'openai:text-embedding-3-small', dimension: 1536 });
      await store.close();
      const error = await openService(testConfig({ dataDir: dir })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngramError);
      expect((error as EngramError).code).toBe('embedding_mismatch');
      expect((error as EngramError).message).toMatch(/engram reindex/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
