/**
 * Secrets never reach logs, errors or metrics (issue 10, item 6). A real `engram serve --bot`
 * process, logging at trace level, is configured with recognisable secrets — an API key, an LLM
 * key, a Telegram token and webhook secret, the bot's API key, an OpenAI key, a knowledge-base
 * remote with a password, and (when the services run) a PostgreSQL and a Redis URL with passwords.
 * It serves good and bad requests, upstream failures, /metrics, /health and /ready; then
 * start-up failures print their errors. Everything the processes printed, and every response body
 * and header, is searched for every secret (and for the first characters of the API key).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';
import { type FakeTelegram, startFakeTelegram } from '../helpers/fake-telegram.js';
import { ENGRAM_BIN, runCli, type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
const redisUrl = process.env.ENGRAM_TEST_REDIS_URL;

const SECRETS = {
  llmKey: 'sk-llm-Secret-Okapi-7781',
  openaiKey: 'sk-openai-Secret-Narwhal-5523',
  telegramToken: '987654321:AAF-tg-Secret-Lemur-42',
  webhookSecret: 'whsec-Secret-Pangolin-19',
  botApiKey: 'engram_botkey-Secret-Axolotl-3300',
  kbPassword: 'kbpass-Secret-Tapir-64',
  pgPassword: 'pgpass-Secret-Quokka-991',
  redisPassword: 'redispass-Secret-Ibis-207',
  otelPassword: 'otelpass-Secret-Gecko-88',
};

/** `postgres://user:pass@host/db` with the password replaced (the test server trusts local connections). */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

/** Every secret and its telling parts (the Telegram token's secret half, the API key's first characters). */
function secretStrings(apiKey: string, keyHash: string): string[] {
  return [
    ...Object.values(SECRETS),
    SECRETS.telegramToken.split(':')[1] as string,
    apiKey,
    apiKey.slice('engram_'.length),
    apiKey.slice(0, 'engram_'.length + 12),
    apiKey.slice('engram_'.length, 'engram_'.length + 12),
    keyHash,
    encodeURIComponent(apiKey),
  ];
}

function expectNoSecret(secrets: string[], where: string, text: string): void {
  for (const secret of secrets) expect(text, `${where} contains ${secret}`).not.toContain(secret);
}

describe('secrets in logs, errors and metrics', () => {
  let dir: string;
  let llm: FakeLlm;
  let telegram: FakeTelegram;
  let server: ServerProcess;
  let apiKey: string;
  let secrets: string[];
  let env: NodeJS.ProcessEnv;
  const schema = `sec_${randomBytes(6).toString('hex')}`;
  /** Every response status line, header and body the test received. */
  const seen: string[] = [];

  /** `echo`: the request puts a secret where a response may rightly repeat it to its sender (a path). */
  const request = async (path: string, init: RequestInit = {}, echo = false) => {
    const response = await fetch(new URL(path, server.url), init);
    const body = await response.text();
    if (!echo) seen.push(`${response.status}\n${[...response.headers].join('\n')}\n${body}`);
    return { status: response.status, body };
  };
  const withKey = (key: string, extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    ...extra,
  });

  beforeAll(async () => {
    dir = await tempDir('engram-secrets-');
    llm = await startFakeLlm();
    telegram = await startFakeTelegram(SECRETS.telegramToken);
    const created = await runCli(['keys', 'create', '--user', 'alice', '--data-dir', dir]);
    expect(created.code, created.stderr).toBe(0);
    apiKey = created.stdout.trim();
    expect(apiKey).toMatch(/^engram_/);
    const file = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8')) as { keys: { hash: string }[] };
    const hash = file.keys[0]?.hash as string;
    secrets = secretStrings(apiKey, hash);
    env = {
      ENGRAM_LOG_LEVEL: 'trace',
      ENGRAM_LLM_PROVIDER: 'openai',
      ENGRAM_LLM_BASE_URL: llm.baseUrl,
      ENGRAM_LLM_API_KEY: SECRETS.llmKey,
      ENGRAM_LLM_MODEL: 'scripted',
      ENGRAM_LLM_MAX_RETRIES: '0',
      ENGRAM_OPENAI_API_KEY: SECRETS.openaiKey,
      ENGRAM_TELEGRAM_TOKEN: SECRETS.telegramToken,
      ENGRAM_TELEGRAM_API_ROOT: telegram.apiRoot,
      ENGRAM_TELEGRAM_ALLOWED_IDS: '111',
      ENGRAM_TELEGRAM_BURST_MS: '100',
      ENGRAM_TELEGRAM_WEBHOOK_SECRET: SECRETS.webhookSecret,
      ENGRAM_BOT_API_KEY: SECRETS.botApiKey,
      // Unreachable: every note's push fails, and the failure is logged.
      ENGRAM_KB_REMOTE: `http://engram:${SECRETS.kbPassword}@127.0.0.1:9/notes.git`,
      ENGRAM_KB_PUSH_ATTEMPTS: '1',
      // Traces to a collector that takes basic auth in its URL (unreachable: exports fail, and are logged).
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://otel:${SECRETS.otelPassword}@127.0.0.1:9`,
      ...(postgresUrl && {
        ENGRAM_STORE: 'postgres',
        ENGRAM_POSTGRES_URL: withPassword(postgresUrl, SECRETS.pgPassword),
        ENGRAM_POSTGRES_SCHEMA: schema,
      }),
      ...(redisUrl && { ENGRAM_REDIS_URL: withPassword(redisUrl, SECRETS.redisPassword) }),
    };
    server = await spawnServer(['--bot', '--data-dir', dir], env);
  }, 90_000);

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await llm?.close();
    await telegram?.close();
    if (postgresUrl) {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });

  it('serves good requests, bad keys, upstream failures and metrics without printing a secret', async () => {
    // Successful requests, over REST and MCP.
    expect(
      (
        await request('/v1/memories', {
          method: 'POST',
          headers: withKey(apiKey),
          body: '{"content":"Alice likes tea","infer":false}',
        })
      ).status,
    ).toBe(201);
    expect(
      (await request('/v1/search', { method: 'POST', headers: withKey(apiKey), body: '{"query":"tea"}' })).status,
    ).toBe(200);
    const mcp = await request('/mcp', {
      method: 'POST',
      headers: withKey(apiKey, { accept: 'application/json, text/event-stream' }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'secrets', version: '0' } },
      }),
    });
    expect(mcp.status).toBe(200);

    // Failed authentication, every way a key can be sent wrongly.
    const wrong = `engram_${randomBytes(32).toString('base64url')}`;
    const refusals: [string, RequestInit][] = [
      ['/v1/memories', { headers: { authorization: `Bearer ${wrong}` } }],
      [`/v1/memories?key=${apiKey}&api_key=${apiKey}&token=${apiKey}`, {}],
      ['/v1/memories', { headers: { authorization: `Basic ${apiKey}` } }],
      ['/v1/memories', { headers: { authorization: apiKey } }],
      ['/v1/memories', { headers: { authorization: `Bearer ${apiKey} ${apiKey}` } }],
      ['/v1/memories', { headers: { 'x-api-key': apiKey } }],
      [`/mcp?key=${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
      [`/sse?token=${apiKey}`, {}],
      [`/v1/memories/${apiKey}`, { headers: { authorization: `Bearer ${wrong}` } }],
    ];
    for (const [path, init] of refusals) expect((await request(path, init)).status).toBe(401);
    // A key where an id or a path goes: the 404 names what its sender asked for; the log must not.
    expect((await request(`/v1/memories/${apiKey}`, { headers: withKey(apiKey) }, true)).status).toBe(404);
    expect((await request(`/nowhere/${apiKey}`, { headers: withKey(apiKey) }, true)).status).toBe(404);

    // The LLM refuses its key: extraction and chat fail, saying so without the key.
    llm.script({ status: 401 }, { status: 401 });
    const extract = await request('/v1/memories/extract', {
      method: 'POST',
      headers: withKey(apiKey),
      body: JSON.stringify({ messages: [{ content: 'I live in Lisbon' }] }),
    });
    expect(extract.status).toBeGreaterThanOrEqual(500);
    const chat = await request('/v1/chat', {
      method: 'POST',
      headers: withKey(apiKey),
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(chat.status).toBeGreaterThanOrEqual(500);
    llm.clear();

    // A note through the bot: the push to the remote with a password fails and is logged.
    const mark = telegram.sent.length;
    telegram.sendText(111, 'Dentist on Friday #health');
    await telegram.waitForSent((message) => message.text.includes('Saved'), { after: mark, timeoutMs: 30_000 });
    await request('/v1/kb/notes', { method: 'POST', headers: withKey(apiKey), body: '{"body":"Pack the umbrella"}' });

    for (const path of ['/health', '/ready', '/metrics', '/openapi.json']) {
      expect((await request(path)).status).toBe(200);
    }
    const metrics = seen.at(-2) as string;
    expect(metrics).toContain('engram_http_request_duration_seconds');

    // The LLM saw its key (so it really was configured), in the Authorization header only.
    expect(llm.requests.length).toBeGreaterThan(0);

    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
    expect(server.stderr()).toContain('"level":20'); // debug lines were written (nothing logs at trace)
    expect(server.stderr()).toContain('push failed');
    expectNoSecret(secrets, 'the server log (stderr)', server.stderr());
    expectNoSecret(secrets, 'stdout', server.stdout());
    for (const reply of seen) expectNoSecret(secrets, 'a response', reply);
  }, 120_000);

  it('prints no secret when the start fails or the keys are listed', async () => {
    const failures: NodeJS.ProcessEnv[] = [
      // PostgreSQL with a password on a port nobody listens on.
      { ENGRAM_STORE: 'postgres', ENGRAM_POSTGRES_URL: `postgres://engram:${SECRETS.pgPassword}@127.0.0.1:9/engram` },
      // Redis with a password on a port nobody listens on.
      { ENGRAM_REDIS_URL: `redis://:${SECRETS.redisPassword}@127.0.0.1:9` },
      // Not URLs at all, with the secret inside.
      { ENGRAM_STORE: 'postgres', ENGRAM_POSTGRES_URL: `not a url ${SECRETS.pgPassword}` },
      { ENGRAM_REDIS_URL: `redis//:${SECRETS.redisPassword}@` },
      // A bad setting beside the secrets.
      { ENGRAM_LLM_PROVIDER: 'nonsense', ENGRAM_PORT: 'eighty' },
    ];
    for (const extra of failures) {
      const result = await runCli(['serve', '--port', '0', '--data-dir', join(dir, 'failing')], {
        ...env,
        ENGRAM_STORE: 'sqlite',
        ENGRAM_REDIS_URL: '',
        ENGRAM_POSTGRES_URL: '',
        ENGRAM_TELEGRAM_TOKEN: SECRETS.telegramToken,
        ENGRAM_LOG_LEVEL: 'trace',
        ...extra,
      });
      expect(result.code, JSON.stringify(extra)).not.toBe(0);
      expect(result.stderr.length).toBeGreaterThan(0);
      expectNoSecret(secrets, `the failed start with ${Object.keys(extra).join(', ')}`, result.stderr + result.stdout);
    }
    const listed = await exec(process.execPath, [ENGRAM_BIN, 'keys', 'list', '--data-dir', dir], {
      env: { ...process.env, ...env },
    });
    expect(listed.stdout).toContain('alice');
    expectNoSecret(secrets, 'engram keys list', listed.stdout + listed.stderr);
  }, 120_000);
});
