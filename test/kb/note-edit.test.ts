import { execFile } from 'node:child_process';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import type { MemoryService } from '../../src/core/memory-service.js';
import { KnowledgeBase } from '../../src/kb/index.js';
import { openService } from '../../src/runtime.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Editing a note in place, on a real git repository indexed into a real SQLite store. */
const exec = promisify(execFile);
let dir: string;
let service: MemoryService;
let fake: FakeEmbeddings;
let kb: KnowledgeBase;

const git = async (...args: string[]) => (await exec('git', ['-C', join(dir, 'kb'), ...args])).stdout.trim();
const kbTexts = async (userId: string) =>
  (await service.list(userId, { filter: { source: 'kb' } })).items.map((memory) => memory.content).sort();

beforeAll(async () => {
  dir = await tempDir('engram-kb-edit-');
  // The deterministic test embedder: the notes' searches share words with what they find.
  fake = await startFakeEmbeddings();
  const openai = { baseUrl: fake.baseUrl, model: 'test-embedder', dimension: 32 };
  service = await openService(testConfig({ dataDir: dir, logLevel: 'silent', embedder: 'openai', openai }));
  kb = new KnowledgeBase(service, {
    dir: join(dir, 'kb'),
    branch: 'main',
    authorName: 'Engram Test',
    authorEmail: 'test@example.org',
    pushAttempts: 1,
    pushBackoffMs: 10,
    defaultOwner: 'owner',
    watch: true,
  });
  await kb.init();
}, 60_000);
afterAll(async () => {
  await kb?.close();
  await service?.close();
  await fake?.close();
});

describe('editing a note', () => {
  it('rewrites it at the same path, commits the edit, and search finds the new text instead of the old', async () => {
    const { note } = await kb.create('alice', {
      title: 'Garden',
      body: '## Roses\nPrune in March.\n\n## Tomatoes\nWater every evening.',
      category: 'home',
      tags: ['plants'],
      source: 'api',
    });
    const edited = await kb.update('alice', note.path, {
      title: 'Garden plan',
      body: '## Roses\nPrune in February, before the buds.\n\n## Tomatoes\nWater every evening.',
      tags: ['plants', 'spring'],
    });
    expect(edited.note).toMatchObject({
      path: note.path,
      title: 'Garden plan',
      category: 'home',
      tags: ['plants', 'spring'],
      owner: 'alice',
      source: 'api',
      createdAt: note.createdAt,
    });
    expect(edited.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(await git('log', '-1', '--format=%s')).toBe('edit note: Garden plan (home)');
    expect(await git('status', '--porcelain')).toBe('');
    expect(await readFile(join(dir, 'kb', note.path), 'utf8')).toContain('Prune in February');
    expect(await kbTexts('alice')).toEqual([
      'Garden plan › Roses\nPrune in February, before the buds.',
      'Garden plan › Tomatoes\nWater every evening.',
    ]);
    expect(edited.memoryIds).toHaveLength(2);
    const hits = await kb.search('alice', 'when to prune the roses', 1);
    expect(hits[0]).toMatchObject({
      path: note.path,
      title: 'Garden plan',
      text: 'Prune in February, before the buds.',
    });
    expect(kb.list('alice').map((listed) => listed.title)).toEqual(['Garden plan']);

    // The same values again change nothing: no commit.
    const again = await kb.update('alice', note.path, { tags: ['plants', 'spring'] });
    expect(again.commit).toBeNull();
    expect(again.memoryIds.sort()).toEqual([...edited.memoryIds].sort());
  }, 60_000);

  it("refuses another user's note as not found, and an empty or oversized edit before writing", async () => {
    const { note } = await kb.create('bob', { body: '# Keys\nSpare key with the neighbour.', source: 'api' });
    const before = await readFile(join(dir, 'kb', note.path), 'utf8');
    const head = await git('rev-parse', 'HEAD');
    await expect(kb.update('mallory', note.path, { body: 'mine now' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(kb.update('bob', note.path, { body: '   ' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(kb.update('bob', note.path, { body: `# ${'h'.repeat(40_000)}\n\ntext` })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    expect(await readFile(join(dir, 'kb', note.path), 'utf8')).toBe(before);
    expect(await git('rev-parse', 'HEAD')).toBe(head);
    expect(await kbTexts('bob')).toEqual(['Keys\nSpare key with the neighbour.']);
  }, 60_000);

  it('puts the previous text and its memories back when the commit fails', async () => {
    const { note } = await kb.create('carol', { body: '# Bikes\nChain oiled in May.', source: 'api' });
    await writeFile(join(dir, 'kb', '.git', 'index.lock'), '');
    const failed = await kb.update('carol', note.path, { body: '# Bikes\nChain replaced in June.' }).then(
      () => null,
      (error: unknown) => error,
    );
    await unlink(join(dir, 'kb', '.git', 'index.lock'));
    expect(failed).not.toBeNull();
    expect(await readFile(join(dir, 'kb', note.path), 'utf8')).toContain('Chain oiled in May.');
    expect(await kbTexts('carol')).toEqual(['Bikes\nChain oiled in May.']);
    expect(await git('status', '--porcelain')).toBe('');
    // The next edit goes through, and carries only itself.
    const next = await kb.update('carol', note.path, { body: '# Bikes\nChain replaced in July.' });
    expect(await git('show', '--format=', next.commit as string)).toContain('+Chain replaced in July.');
    expect(await kbTexts('carol')).toEqual(['Bikes\nChain replaced in July.']);
  }, 60_000);

  it('gives a note written by hand frontmatter on its first edit, keeping its owner and title', async () => {
    const path = 'topics/home/recipes.md';
    await writeFile(join(dir, 'kb', path), '# Recipes\n\nPancakes: flour, milk, eggs.');
    await expect.poll(() => kb.list('owner').map((listed) => listed.path), { timeout: 15_000 }).toContain(path);
    const edited = await kb.update('owner', path, {
      body: '# Recipes\n\nPancakes: flour, milk, eggs, a pinch of salt.',
    });
    expect(edited.note).toMatchObject({ path, title: 'Recipes', owner: 'owner', source: 'file', category: 'home' });
    const text = await readFile(join(dir, 'kb', path), 'utf8');
    expect(text).toMatch(/^---\ntitle: Recipes\n/);
    expect(text).toContain('owner: owner');
    expect(await kbTexts('owner')).toEqual(['Recipes\nPancakes: flour, milk, eggs, a pinch of salt.']);
  }, 60_000);
});
