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

/** The knowledge base on a real git repository, indexed into a real SQLite store with the deterministic test embedder. */
const exec = promisify(execFile);
let dir: string;
let service: MemoryService;
let fake: FakeEmbeddings;
let kb: KnowledgeBase;
let remote: string;

const git = async (...args: string[]) => (await exec('git', ['-C', join(dir, 'kb'), ...args])).stdout.trim();

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > end) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const openKb = () =>
  new KnowledgeBase(service, {
    dir: join(dir, 'kb'),
    remote,
    branch: 'main',
    authorName: 'Engram Test',
    authorEmail: 'test@example.org',
    pushAttempts: 2,
    pushBackoffMs: 10,
    defaultOwner: 'owner',
    watch: true,
  });

beforeAll(async () => {
  dir = await tempDir('engram-kb-');
  remote = join(dir, 'remote.git');
  await exec('git', ['init', '--bare', '--initial-branch', 'main', remote]);
  // The deterministic test embedder: the notes' searches share words with what they find.
  fake = await startFakeEmbeddings();
  const openai = { baseUrl: fake.baseUrl, model: 'test-embedder', dimension: 32 };
  service = await openService(testConfig({ dataDir: dir, logLevel: 'silent', embedder: 'openai', openai }));
  kb = openKb();
  await kb.init();
}, 60_000);
afterAll(async () => {
  await kb?.close();
  await service?.close();
  await fake?.close();
});

describe('knowledge base', () => {
  it('writes a note, commits it, pushes it, and indexes it as the owner’s memories', async () => {
    const created = await kb.create('alice', {
      body: '# Trip\n\n## Flights\nLisbon on 3 May, TP 1234.\n\n## Hotel\nCasa do Rio, two nights.',
      category: 'travel',
      tags: ['lisbon'],
      source: 'api',
    });
    expect(created.created).toBe(true);
    expect(created.note.path).toMatch(/^topics\/travel\/\d{4}-\d{2}-\d{2}-trip\.md$/);
    // The answer is the note as it is read back from its file.
    expect(created.note).toEqual(await kb.read('alice', created.note.path));
    expect(created.memoryIds).toHaveLength(2);
    expect(await git('log', '--format=%s|%an')).toBe('note: Trip (travel)|Engram Test');
    expect(await git('status', '--porcelain')).toBe('');

    await kb.close(); // waits for the push
    kb = openKb();
    await kb.init();
    const pushed = (await exec('git', ['--git-dir', remote, 'log', '--format=%s', 'main'])).stdout.trim();
    expect(pushed).toBe('note: Trip (travel)');

    const hits = await kb.search('alice', 'which hotel did we book', 2);
    expect(hits[0]).toMatchObject({ path: created.note.path, heading: 'Trip › Hotel' });
    const memory = await service.get('alice', created.memoryIds[1] as string);
    expect(memory).toMatchObject({
      source: 'kb',
      category: 'travel',
      tags: ['lisbon'],
      sessionId: `kb:${created.note.path}`,
    });
  }, 30_000);

  it('keeps notes to their owner: another user neither lists, reads nor finds them', async () => {
    const [note] = kb.list('alice');
    expect(note).toBeDefined();
    expect(kb.list('bob')).toEqual([]);
    await expect(kb.read('bob', note?.path as string)).rejects.toThrow(/not found/);
    expect(await kb.search('bob', 'Lisbon hotel', 5)).toEqual([]);
    await expect(kb.read('alice', '../../../etc/passwd.md')).rejects.toThrow(/not a note path/);
    await expect(kb.delete('bob', note?.path as string)).rejects.toThrow(/not found/);
    expect(kb.list('alice')).toHaveLength(1);
  });

  it('makes one note per sourceId, and numbers notes whose names collide', async () => {
    const first = await kb.create('alice', { body: 'Call the plumber', sourceId: 'tg:1:7', source: 'telegram' });
    const again = await kb.create('alice', { body: 'Call the plumber', sourceId: 'tg:1:7', source: 'telegram' });
    expect(again.created).toBe(false);
    expect(again.note.path).toBe(first.note.path);
    const twin = await kb.create('alice', { body: 'Call the plumber', source: 'telegram' });
    expect(twin.note.path).toBe(first.note.path.replace(/\.md$/, '-2.md'));
    expect(kb.list('alice').filter((note) => note.title === 'Call the plumber')).toHaveLength(2);
  });

  it('gives two users’ notes with one title, written at the same moment, two files', async () => {
    const [alice, bob] = await Promise.all([
      kb.create('alice', { body: 'Alice: the safe code is 0412', title: 'Same moment', source: 'api' }),
      kb.create('bob', { body: 'Bob: buy milk', title: 'Same moment', source: 'api' }),
    ]);
    expect(alice.note.path).not.toBe(bob.note.path);
    expect(await kb.read('alice', alice.note.path)).toMatchObject({
      owner: 'alice',
      body: expect.stringContaining('0412'),
    });
    expect(await kb.read('bob', bob.note.path)).toMatchObject({ owner: 'bob', body: expect.stringContaining('milk') });
    expect(await readFile(join(dir, 'kb', alice.note.path), 'utf8')).toContain('0412');
  });

  it('commits a note whose title and category carry control characters (NUL included)', async () => {
    const created = await kb.create('alice', {
      body: 'Bell schedule',
      title: 'Bells\u0000at\u0007noon',
      category: 'a\u0000b',
      source: 'mcp',
    });
    expect(created.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(created.note.path).toMatch(/^topics\/a-b\/\d{4}-\d{2}-\d{2}-bells-at-noon\.md$/);
    expect(await git('log', '-1', '--format=%s')).toBe('note: Bells at noon (a b)');
    expect(await git('status', '--porcelain')).toBe('');
    expect((await kb.read('alice', created.note.path)).body).toBe('Bell schedule');
  });

  it('re-indexes notes edited, added and deleted on disk', async () => {
    const [trip] = kb.list('alice').filter((note) => note.title === 'Trip');
    const file = join(dir, 'kb', trip?.path as string);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('Casa do Rio, two nights.', 'Moved to the Pensão Azul, by the river.'));
    const edited = await until(
      () => kb.search('alice', 'Pensão Azul', 1),
      (hits) => hits[0]?.text.includes('Pensão Azul') ?? false,
    );
    expect(edited[0]?.text).toContain('Pensão Azul');

    // A note written by hand, without frontmatter, belongs to the default owner.
    await writeFile(join(dir, 'kb', 'topics', 'travel', 'packing.md'), '# Packing\n\nPassport, charger, umbrella.');
    const added = await until(
      () => kb.search('owner', 'umbrella', 1),
      (hits) => hits.length > 0,
    );
    expect(added[0]?.path).toBe('topics/travel/packing.md');

    await unlink(join(dir, 'kb', 'topics', 'travel', 'packing.md'));
    const gone = await until(
      () => service.list('owner', { filter: { source: 'kb' } }),
      (page) => page.items.length === 0,
    );
    expect(gone.items).toEqual([]);
  }, 30_000);

  it('deletes a note with a commit, and purges a user’s notes', async () => {
    const note = await kb.create('carol', { body: 'Carol’s secret recipe', source: 'api' });
    await kb.create('carol', { body: 'Carol’s second note', source: 'api' });
    await kb.delete('carol', note.note.path);
    expect(await git('log', '-1', '--format=%s')).toBe('delete note: Carol’s secret recipe');
    expect(await service.list('carol', { filter: { source: 'kb' } })).toMatchObject({ items: [expect.anything()] });
    expect(await kb.purgeUser('carol')).toBe(1);
    expect(kb.list('carol')).toEqual([]);
    expect(await git('log', '-1', '--format=%s')).toBe('purge notes of user carol');
  });
});

describe('knowledge base with an unreachable remote', () => {
  it('keeps the commit, retries the push, then reports the failure without the remote’s credentials', async () => {
    const failures: string[] = [];
    const other = new KnowledgeBase(service, {
      dir: join(dir, 'kb-offline'),
      remote: `https://bob:s3cret-token@127.0.0.1:1/${dir.replace(/^\//, '')}/none.git`,
      branch: 'main',
      authorName: 'Engram Test',
      authorEmail: 'test@example.org',
      pushAttempts: 2,
      pushBackoffMs: 10,
      defaultOwner: 'owner',
      watch: false,
      onPushFailed: (message) => failures.push(message),
    });
    await other.init();
    try {
      const created = await other.create('dave', { body: 'Offline note', source: 'api' });
      expect(created.commit).toMatch(/^[0-9a-f]{40}$/);
      await other.close(); // waits for the push attempts
      expect(failures).toHaveLength(1);
      expect(other.push.lastPushAt).toBeNull();
      expect(other.push.lastError).toBeTruthy();
      expect(`${failures[0]} ${other.push.lastError}`).not.toContain('s3cret-token');
    } finally {
      await other.close();
    }
  }, 30_000);
});

describe('a refused note leaves nothing behind', () => {
  /** What a refused note could have left: files, commits, memories (current or deleted), and what was pushed. */
  async function traces(userId: string) {
    await kb.close(); // waits for any push
    kb = openKb();
    await kb.init();
    const files = (await git('ls-files', '--others', '--cached', 'topics')).split('\n').filter(Boolean);
    const pushed = (await exec('git', ['--git-dir', remote, 'log', '--format=%s', 'main'])).stdout.trim();
    return {
      files,
      commits: await git('log', '--format=%s'),
      pushed,
      notes: kb.list(userId),
      memories: (await service.list(userId, { limit: 100 })).items.length,
      deleted: (await service.deleted(userId, { limit: 100 })).items.length,
    };
  }

  it('refuses a heading over the content limit (413), a note over its section limit (413) and a bad tag (400) before writing', async () => {
    const before = await traces('refused');
    const cases: [Parameters<KnowledgeBase['create']>[1], string, RegExp][] = [
      [{ body: `# ${'h'.repeat(40_000)}\n\ntext`, source: 'api' }, 'payload_too_large', /32768 characters/],
      [
        { body: Array.from({ length: 1_001 }, (_, i) => `# H${i}\nx`).join('\n'), source: 'api' },
        'payload_too_large',
        /1001 sections.*ENGRAM_KB_MAX_SECTIONS/,
      ],
      [{ body: 'fine text', tags: ['bad\u0007tag'], source: 'mcp' }, 'invalid_request', /control characters/],
    ];
    for (const [input, code, message] of cases) {
      const error = await kb.create('refused', input).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error?.code).toBe(code);
      expect(error?.message).toMatch(message);
    }
    const after = await traces('refused');
    expect(after).toEqual(before);
    expect(after.notes).toEqual([]);
    expect(after.memories).toBe(0);
  }, 60_000);

  it('limits what one note may store in all: each section repeats its headings', async () => {
    const small = new KnowledgeBase(service, {
      dir: join(dir, 'kb-small'),
      branch: 'main',
      authorName: 'Engram Test',
      authorEmail: 'test@example.org',
      pushAttempts: 1,
      pushBackoffMs: 10,
      defaultOwner: 'owner',
      watch: false,
      maxNoteBytes: 4_096,
    });
    await small.init();
    try {
      // 1 KB of request, ~12 KB of index: a long title repeated in each of 60 short sections.
      const body = Array.from({ length: 60 }, (_, i) => `## S${i}\nx`).join('\n');
      await expect(small.create('bytes', { title: 't'.repeat(120), body, source: 'api' })).rejects.toMatchObject({
        code: 'payload_too_large',
        message: expect.stringMatching(/ENGRAM_KB_MAX_NOTE_BYTES/),
      });
      expect(small.list('bytes')).toEqual([]);
      expect((await service.list('bytes', { limit: 10 })).items).toEqual([]);
    } finally {
      await small.close();
    }
  }, 60_000);

  it('takes a note back out when its commit fails, and a later note does not carry it', async () => {
    await writeFile(join(dir, 'kb', '.git', 'index.lock'), '');
    const failed = await kb
      .create('locked', { body: '# Locked out\nThe commit of this note fails.', source: 'api' })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    await unlink(join(dir, 'kb', '.git', 'index.lock'));
    expect(failed).not.toBeNull();
    expect(kb.list('locked')).toEqual([]);
    expect((await service.list('locked', { limit: 10 })).items).toEqual([]);
    expect((await service.deleted('locked', { limit: 10 })).items).toEqual([]);

    const next = await kb.create('locked', { body: '# After\nThis one commits.', source: 'api' });
    expect(await git('show', '--name-only', '--format=', next.commit as string)).toBe(next.note.path);
    expect(await git('log', '--all', '--format=%s')).not.toContain('Locked out');
    expect(await git('status', '--porcelain')).not.toContain('locked-out');
  }, 60_000);

  it('indexes a section two notes share for each, so it stays findable when one note goes', async () => {
    const shared = '## Wi-Fi\nThe guest network password is lemonade-42.';
    const first = await kb.create('dup', {
      title: 'Cabin',
      body: `# Cabin\n${shared}\n## Keys\nUnder the mat.`,
      source: 'api',
    });
    const second = await kb.create('dup', {
      title: 'Cabin',
      body: `# Cabin\n${shared}\n## Boat\nThe red one.`,
      source: 'api',
    });
    expect(second.memoryIds).toHaveLength(2);
    expect(second.memoryIds).not.toContain(first.memoryIds[0]);
    await kb.delete('dup', first.note.path);
    const hits = await kb.search('dup', 'guest network password', 3);
    expect(hits[0]).toMatchObject({ path: second.note.path, heading: 'Cabin › Wi-Fi' });
  }, 60_000);
});
