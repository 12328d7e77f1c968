import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGRAM_BIN } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
let dataDir: string;

/** Runs the compiled `engram` command against the test data dir. */
async function engram(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [ENGRAM_BIN, ...args, '--data-dir', dataDir], {
      env: { ...process.env, ENGRAM_LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  dataDir = await tempDir('engram-cli-');
});

/** Each test runs a dozen CLI processes, each loading the model: minutes on a busy 2-core machine. */
describe('engram CLI', () => {
  it('adds, searches with explanations, lists, exports and imports', async () => {
    expect(
      (await engram(['add', 'Alice', 'loves', 'hiking', 'in', 'the', 'Alps', '--user', 'alice', '--tags', 'outdoors']))
        .stdout,
    ).toMatch(/^stored /);
    expect((await engram(['add', 'Alice loves hiking in the Alps', '--user', 'alice'])).stdout).toMatch(
      /^already stored /,
    );
    await engram(['add', 'Alice', 'drinks', 'oat', 'milk', '--user', 'alice', '--category', 'food']);

    const search = await engram(['search', 'mountain', 'walking', '--user', 'alice']);
    expect(search.code).toBe(0);
    expect(search.stdout.split('\n')[0]).toContain('hiking in the Alps');
    expect(search.stdout).toMatch(/vector #1 \(similarity 0\.\d+\)/);

    const json = JSON.parse(
      (await engram(['search', 'oat milk', '--mode', 'keyword', '--json', '--user', 'alice'])).stdout,
    );
    expect(json.results[0].memory.content).toBe('Alice drinks oat milk');
    expect(json.results[0].explanation.keyword.rank).toBe(1);

    await engram(['add', 'Alice: what was the name of that ramen shop?', '--user', 'carol', '--session', 's1']);
    await engram(['add', 'Bob: Menya Musashi, by the river.', '--user', 'carol', '--session', 's1']);
    const context = await engram(['search', 'ramen', 'shop', '--user', 'carol']);
    expect(context.stdout).toMatch(/Menya Musashi[^\n]*\n[^\n]*context \+\d\.\d+ \(neighbours 1 before\)/);

    const list = await engram(['list', '--user', 'alice', '--category', 'food']);
    expect(list.stdout).toContain('oat milk');
    expect(list.stdout).not.toContain('Alps');

    const file = join(dataDir, 'alice.jsonl');
    await engram(['export', '--user', 'alice', '--out', file]);
    expect(
      (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .filter((l) => l.includes('"type":"memory"')),
    ).toHaveLength(2);
    await writeFile(`${file}.bad`, `${await readFile(file, 'utf8')}{"type":"memory"}\n`);
    const imported = await engram(['import', `${file}.bad`, '--user', 'bob']);
    expect(imported.stdout).toContain('imported 2, skipped 0 duplicates');
    expect(imported.stderr).toMatch(/line \d+: /);
    expect(imported.code).toBe(1);
    expect((await engram(['list', '--user', 'bob', '--json'])).stdout).toContain('oat milk');
  }, 180_000);

  it('creates, lists and revokes keys without ever storing or listing the secret', async () => {
    const created = await engram(['keys', 'create', '--user', 'alice', '--name', 'laptop']);
    const key = created.stdout.trim();
    expect(key).toMatch(/^engram_[A-Za-z0-9_-]{43}$/);
    const listed = await engram(['keys', 'list']);
    expect(listed.stdout).toContain('user alice');
    expect(listed.stdout).not.toContain(key);
    expect(await readFile(join(dataDir, 'keys.json'), 'utf8')).not.toContain(key);
    const id = listed.stdout.split(/\s+/)[0] as string;
    expect((await engram(['keys', 'revoke', id])).stdout).toContain(`revoked ${id}`);
    expect((await engram(['keys', 'list'])).stdout).toContain('REVOKED');
    const both = await engram(['keys', 'create', '--user', 'x', '--admin']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('exactly one of --user <id> or --admin');
  });

  it('deletes and undeletes a memory, forgets one for good, and compact leaves none of its words in the file', async () => {
    const add = async (content: string) =>
      JSON.parse((await engram(['add', content, '--user', 'erin', '--json'])).stdout).memory.id as string;
    const kept = await add('Erin waters the orchids every Tuesday');
    const secret = await add('Erin wrote down the alarm code Quokkafrost 5521');

    const deleted = await engram(['delete', kept, '--user', 'erin']);
    expect(deleted).toMatchObject({ code: 0, stdout: expect.stringContaining(`deleted ${kept}`) });
    // What the message says undoes it does: `restore` means the same as REST's and MCP's restore.
    expect(deleted.stdout).toContain(`\`engram restore ${kept}\` undoes this`);
    expect((await engram(['list', '--user', 'erin'])).stdout).not.toContain('orchids');
    expect((await engram(['restore', kept, '--user', 'erin'])).stdout).toMatch(/^restored .*orchids/s);
    expect((await engram(['list', '--user', 'erin'])).stdout).toContain('orchids');

    // Another user cannot forget it; then erin does.
    expect((await engram(['forget', secret, '--user', 'mallory'])).stderr).toMatch(/not found/i);
    const forgot = await engram(['forget', secret, '--user', 'erin']);
    expect(forgot).toMatchObject({ code: 0, stdout: expect.stringContaining(`forgot ${secret}`) });
    expect((await engram(['undelete', secret, '--user', 'erin'])).code).not.toBe(0);
    // A backup file given to `restore` is pointed to `restore-backup`.
    const backupFile = join(dataDir, 'some-backup.db');
    await writeFile(backupFile, '');
    expect((await engram(['restore', backupFile])).stderr).toContain(`\`engram restore-backup ${backupFile}\``);
    expect((await engram(['search', 'alarm code', '--mode', 'keyword', '--user', 'erin'])).stdout).not.toContain(
      'Quokkafrost',
    );

    const occurrences = async () => {
      let found = 0;
      for (const suffix of ['', '-wal']) {
        const bytes = await readFile(join(dataDir, `engram.db${suffix}`)).catch(() => Buffer.alloc(0));
        found += bytes.toString('latin1').match(/quokkafrost/gi)?.length ?? 0;
      }
      return found;
    };
    // Erased from every table, the words still sit in free pages and the keyword index's segments …
    expect(await occurrences()).toBeGreaterThan(0);
    const compacted = await engram(['compact']);
    expect(compacted).toMatchObject({ code: 0, stdout: expect.stringMatching(/^compacted the sqlite store: /) });
    // … until compact rewrites the file; the rest is intact.
    expect(await occurrences()).toBe(0);
    expect((await engram(['search', 'orchids', '--user', 'erin'])).stdout.split('\n')[0]).toContain('orchids');
  }, 180_000);

  it('fails with a clear message on bad configuration', async () => {
    const result = await engram(['list'], { ENGRAM_PORT: 'eighty' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ENGRAM_PORT (port)');
  });
});

describe('engram reindex (switching embedding models)', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    // A local stand-in for an OpenAI-compatible embeddings endpoint (the real wire format).
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const { input, model } = JSON.parse(body) as { input: string[]; model: string };
        if (model === 'broken') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'this model is broken' } }));
          return;
        }
        const data = input.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: [...createHash('sha256').update(text).digest()].slice(0, 16).map((b) => b / 255 - 0.5),
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses the other model until reindex, then serves with it', async () => {
    const openai = { ENGRAM_EMBEDDER: 'openai', ENGRAM_OPENAI_BASE_URL: baseUrl, ENGRAM_OPENAI_MODEL: 'fake-embed' };
    await engram(['add', 'Carol keeps bees', '--user', 'carol']);
    const refused = await engram(['list', '--user', 'carol'], openai);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('use-lite-512');
    expect(refused.stderr).toContain('engram reindex');

    const reindexed = await engram(['reindex'], openai);
    expect(reindexed.code).toBe(0);
    expect(reindexed.stdout).toMatch(/re-embedded \d+ memories with openai:fake-embed \(16-d\)/);

    const search = JSON.parse(
      (await engram(['search', 'Carol keeps bees', '--mode', 'vector', '--json', '--user', 'carol'], openai)).stdout,
    );
    expect(search.results[0].memory.content).toBe('Carol keeps bees');
    expect(search.results[0].explanation.vector.similarity).toBeCloseTo(1, 5);
    expect((await engram(['list', '--user', 'carol'])).stderr).toContain('openai:fake-embed');
  });

  it('refuses to serve after an interrupted reindex until `engram reindex` is run again', async () => {
    const openai = { ENGRAM_EMBEDDER: 'openai', ENGRAM_OPENAI_BASE_URL: baseUrl, ENGRAM_OPENAI_MODEL: 'fake-embed' };
    await engram(['add', 'Dan repairs clocks', '--user', 'dan'], openai);
    // A reindex onto another model whose endpoint fails once it has started.
    const broken = await engram(['reindex'], {
      ...openai,
      ENGRAM_OPENAI_MODEL: 'broken',
      ENGRAM_OPENAI_DIMENSION: '16',
    });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('this model is broken');
    for (const env of [openai, {}]) {
      const refused = await engram(['list', '--user', 'dan'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('reindex onto openai:broken');
      expect(refused.stderr).toContain('did not finish');
      expect(refused.stderr).toContain('engram reindex');
    }
    expect((await engram(['reindex'], openai)).code).toBe(0);
    const list = await engram(['list', '--user', 'dan'], openai);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('Dan repairs clocks');
  });
});
