import { execFile, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeTelegram, startFakeTelegram } from '../helpers/fake-telegram.js';
import { ENGRAM_BIN, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The `engram bot` and `engram serve --bot` commands, as the compiled CLI runs them. */
const exec = promisify(execFile);
let dir: string;
let telegram: FakeTelegram;

beforeAll(async () => {
  dir = await tempDir('engram-bot-cli-');
  telegram = await startFakeTelegram();
});
afterAll(async () => {
  await telegram?.close();
});

const botEnv = (extra: NodeJS.ProcessEnv = {}) => ({
  ...process.env,
  ENGRAM_LOG_LEVEL: 'info',
  ENGRAM_TELEGRAM_TOKEN: telegram.token,
  ENGRAM_TELEGRAM_API_ROOT: telegram.apiRoot,
  ENGRAM_TELEGRAM_ALLOWED_IDS: '111',
  ENGRAM_TELEGRAM_BURST_MS: '200',
  ...extra,
});

describe('bot commands', () => {
  it('refuses to start without a token or without allowed users, saying which setting is missing', async () => {
    const run = (env: NodeJS.ProcessEnv) =>
      exec(process.execPath, [ENGRAM_BIN, 'bot', '--data-dir', join(dir, 'refuse')], { env }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
    const noToken = await run({ ...botEnv(), ENGRAM_TELEGRAM_TOKEN: '' });
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain('ENGRAM_TELEGRAM_TOKEN');
    const nobody = await run(botEnv({ ENGRAM_TELEGRAM_ALLOWED_IDS: '' }));
    expect(nobody.code).not.toBe(0);
    expect(nobody.stderr).toContain('ENGRAM_TELEGRAM_ALLOWED_IDS');
  }, 60_000);

  it('engram bot on a data directory saves a note and stops cleanly on SIGTERM', async () => {
    const dataDir = join(dir, 'standalone');
    const child = spawn(process.execPath, [ENGRAM_BIN, 'bot', '--data-dir', dataDir], {
      env: botEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const mark = telegram.sent.length;
      telegram.sendText(111, 'Dentist on Friday at 9 #health');
      const saved = await telegram.waitForSent((message) => message.text.includes('Saved'), {
        after: mark,
        timeoutMs: 30_000,
      });
      expect(saved.text).toContain('topics/health/');
      const files = await readdir(join(dataDir, 'kb', 'topics', 'health'));
      expect(files).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);

  it('engram serve --bot runs the bot in the server, and its notes are searchable over REST', async () => {
    const server = await spawnServer(['--bot', '--data-dir', join(dir, 'served')], botEnv());
    try {
      const mark = telegram.sent.length;
      telegram.sendText(111, 'The spare key is under the blue flowerpot');
      await telegram.waitForSent((message) => message.text.includes('Saved'), { after: mark, timeoutMs: 30_000 });
      const response = await fetch(new URL('/v1/search', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'tg-111' },
        body: JSON.stringify({ query: 'where is the spare key' }),
      });
      const { results } = (await response.json()) as { results: { memory: { content: string } }[] };
      expect(results[0]?.memory.content).toContain('blue flowerpot');
    } finally {
      server.child.kill('SIGTERM');
    }
  }, 60_000);
});
