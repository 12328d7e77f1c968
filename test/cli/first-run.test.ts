import { execFile } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeTelegram, startFakeTelegram } from '../helpers/fake-telegram.js';
import { ENGRAM_BIN, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The first things a new user meets on the command line: `.env`, typos, a port in use, a data
 * directory they cannot write, a wrong bot token. Each ends in one line saying what is wrong and
 * what to do — never a stack trace — and a broken bot never takes the memory server down.
 */
let root: string;

beforeAll(async () => {
  root = await tempDir('engram-first-run-');
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The compiled CLI, from `cwd`, with only the given ENGRAM_* variables set. */
function engram(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, ENGRAM_LOG_LEVEL: 'silent', ...options.env };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ENGRAM_BIN, ...args],
      { cwd: options.cwd ?? root, env, uid: options.uid, gid: options.gid, timeout: 180_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Whether users other than the owner may reach (search every directory to) and read `path`. */
function reachableByOthers(path: string): boolean {
  const resolved = realpathSync(path);
  if ((statSync(resolved).mode & 0o004) === 0) return false;
  for (let dir = dirname(resolved); dir !== dirname(dir); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
  }
  return true;
}

/** One line on stderr, no stack frames. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('first run on the command line', () => {
  it('reads ./.env, with the environment winning over it', async () => {
    const project = join(root, 'project');
    await mkdir(project);
    await writeFile(join(project, '.env'), `# settings\nENGRAM_DATA_DIR=${join(project, 'from-dotenv')}\n`);
    const fromFile = await engram(['keys', 'create', '--admin'], { cwd: project });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(existsSync(join(project, 'from-dotenv', 'keys.json'))).toBe(true);

    const fromEnv = await engram(['keys', 'create', '--admin'], {
      cwd: project,
      env: { ENGRAM_DATA_DIR: join(project, 'from-env') },
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(existsSync(join(project, 'from-env', 'keys.json'))).toBe(true);
  });

  it('warns about a mistyped ENGRAM_ variable, naming the setting it resembles', async () => {
    const run = await engram(['keys', 'list', '--data-dir', join(root, 'typo')], {
      env: { ENGRAM_DATA_DRI: '/elsewhere', ENGRAM_TEST_ANYTHING: '1' },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('ENGRAM_DATA_DRI is not an Engram setting (did you mean ENGRAM_DATA_DIR?)');
    expect(run.stderr).not.toContain('ENGRAM_TEST_ANYTHING');
  });

  it('names the flag or the variable the user typed when a value is wrong', async () => {
    const flag = await engram(['serve', '--port', 'abc']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain("option '-p, --port <port>' argument 'abc' is invalid");
    expect(flag.stderr).not.toContain('ENGRAM_PORT (port)');

    const variable = await engram(['bot', '--data-dir', join(root, 'ids')], {
      env: { ENGRAM_TELEGRAM_TOKEN: '1:x', ENGRAM_TELEGRAM_ALLOWED_IDS: '12,abc' },
    });
    expectOneLineError(variable, /ENGRAM_TELEGRAM_ALLOWED_IDS \(telegram\.allowedIds\): expected Telegram user ids/);
  });

  it('says when the port is taken, and by what means to choose another', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const run = await engram(['serve', '--port', String(port), '--data-dir', join(root, 'busy')]);
      expectOneLineError(run, new RegExp(`127\\.0\\.0\\.1:${port} is already in use .*--port or ENGRAM_PORT`));
    } finally {
      blocker.close();
    }
  }, 180_000);

  it('says when the data directory cannot be written', async () => {
    await writeFile(join(root, 'a-file'), '');
    const underFile = await engram(['serve', '--data-dir', join(root, 'a-file', 'data')]);
    expectOneLineError(underFile, /cannot write the data directory .*a-file\/data \(ENOTDIR\); choose another/);

    // Permissions, as a user who may not write there (root may write anywhere: run as nobody —
    // which needs Node.js and this checkout reachable by other users; a checkout copied into a
    // private temporary directory, as scripts/test-on-node.sh makes, is not, and then only the
    // case above can be shown).
    const isRoot = process.getuid?.() === 0;
    if (isRoot && !(reachableByOthers(process.execPath) && reachableByOthers(ENGRAM_BIN))) {
      console.info('first-run: Node.js or the checkout is private to root here; the EACCES case is not run');
      return;
    }
    const locked = join(root, 'locked');
    await mkdir(locked);
    await chmod(root, 0o755);
    await chmod(locked, 0o555);
    const denied = await engram(
      ['serve', '--data-dir', join(locked, 'data')],
      isRoot ? { uid: 65_534, gid: 65_534 } : {},
    );
    expectOneLineError(denied, /cannot write the data directory .*locked\/data \(EACCES\)/);
  });

  it('says where it listens, where the web UI is and where the data is', async () => {
    const dataDir = join(root, 'ready');
    const server = await spawnServer(['--data-dir', dataDir]);
    try {
      await expect.poll(() => server.stderr(), { timeout: 60_000 }).toContain('Engram is ready');
      expect(server.stderr()).toContain(
        `Engram is ready: REST ${server.url}/v1, MCP ${server.url}/mcp, web UI ${server.url}/ — data in ${dataDir}`,
      );
    } finally {
      server.child.kill('SIGTERM');
    }
  }, 120_000);

  describe('with a wrong Telegram token', () => {
    let telegram: FakeTelegram;
    beforeAll(async () => {
      telegram = await startFakeTelegram();
    });
    afterAll(async () => {
      await telegram?.close();
    });
    const botEnv = () => ({
      ENGRAM_TELEGRAM_TOKEN: `${telegram.token}-revoked`,
      ENGRAM_TELEGRAM_API_ROOT: telegram.apiRoot,
      ENGRAM_TELEGRAM_ALLOWED_IDS: '111',
    });

    it('`engram bot` stops with one line naming the token', async () => {
      const run = await engram(['bot', '--data-dir', join(root, 'bot')], { env: botEnv() });
      expectOneLineError(run, /Telegram refused ENGRAM_TELEGRAM_TOKEN \(401 Unauthorized\): copy the bot's token/);
    }, 180_000);

    it('`engram serve --bot` keeps serving memories', async () => {
      const server = await spawnServer(['--bot', '--data-dir', join(root, 'serve-bot')], botEnv());
      try {
        await expect.poll(() => server.stderr(), { timeout: 60_000 }).toContain('Engram is ready');
        expect(server.stderr()).toContain('the Telegram bot did not start: Telegram refused ENGRAM_TELEGRAM_TOKEN');
        const added = await fetch(`${server.url}/v1/memories`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ content: 'The server outlives a broken bot.' }),
        });
        expect(added.status).toBe(201);
      } finally {
        server.child.kill('SIGTERM');
      }
    }, 120_000);
  });
});
