import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TelegramBot } from '../../src/bot/bot.js';
import { createBot, startBot as startBotRuntime, WEBHOOK_PATH } from '../../src/bot/index.js';
import { type EngramClient, HttpClient, LocalClient } from '../../src/client/engram-client.js';
import { loadConfig, testConfig } from '../../src/config.js';
import { MemoryService } from '../../src/core/memory-service.js';
import { type ChatModel, OpenAiChat } from '../../src/llm/index.js';
import { createLogger } from '../../src/logger.js';
import { searchOptions } from '../../src/runtime.js';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';
import { type FakeTelegram, startFakeTelegram } from '../helpers/fake-telegram.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The Telegram bot end to end: a real Engram server (SQLite, USE embeddings, git knowledge base)
 * and the bot (grammY, long polling) against a local fake of the Bot API that speaks Telegram's
 * JSON. No LLM is configured: every command here must work without one.
 */
const exec = promisify(execFile);
const ALICE = 111;
const MALLORY = 666;
const BURST_MS = 400;

let server: TestServer;
let telegram: FakeTelegram;
let bot: TelegramBot | null = null;

function startBot(
  client: EngramClient,
  stateFile = join(server.dataDir, 'bot', 'state.json'),
  llm: ChatModel | null = null,
): Promise<TelegramBot> {
  const instance = new TelegramBot({
    llm,
    maxSteps: 3,
    token: telegram.token,
    allowedIds: [ALICE],
    apiRoot: telegram.apiRoot,
    burstMs: BURST_MS,
    userPrefix: 'tg-',
    stateFile,
    client,
    logger: createLogger('silent'),
  });
  return instance.start().then(() => instance);
}

const kbDir = () => join(server.dataDir, 'kb');

async function notes(): Promise<string[]> {
  const entries = await readdir(join(kbDir(), 'topics'), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => join(entry.parentPath, entry.name));
}

async function gitLog(): Promise<string[]> {
  const { stdout } = await exec('git', ['-C', kbDir(), 'log', '--format=%s']);
  return stdout.trim().split('\n').filter(Boolean);
}

const frontmatter = (text: string) => parse(text.split('---')[1] as string) as Record<string, unknown>;

beforeAll(async () => {
  server = await startTestServer({ embeddings: 'test' });
  telegram = await startFakeTelegram();
}, 60_000);
afterEach(async () => {
  await bot?.stop();
  bot = null;
});
afterAll(async () => {
  await telegram?.close();
  await server?.close();
});

describe('telegram bot (no LLM)', () => {
  it('turns a burst of three forwarded messages into one committed note, searchable over MCP and by /ask', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb));
    expect(telegram.calls.some((call) => call.method === 'setMyCommands')).toBe(true);

    telegram.sendText(ALICE, 'Sourdough starter: feed it 1:1:1 flour, water, starter #baking', {
      forwardedFrom: 'Grandma',
    });
    telegram.sendText(ALICE, 'Keep it at 24 °C; it doubles in about six hours.', { forwardedFrom: 'Grandma' });
    telegram.sendText(ALICE, 'Bake when it smells of yoghurt, not of acetone.', { forwardedFrom: 'Grandma' });

    const saved = await telegram.waitForSent(
      (message) => message.method === 'editMessageText' && message.text.includes('Saved'),
    );
    expect(saved.chatId).toBe(ALICE);

    const files = await notes();
    expect(files).toHaveLength(1);
    const text = await readFile(files[0] as string, 'utf8');
    const meta = frontmatter(text);
    expect(meta).toMatchObject({ category: 'baking', tags: ['baking'], source: 'telegram', owner: `tg-${ALICE}` });
    expect(String(meta.title)).toContain('Sourdough starter');
    expect(typeof meta.created_at).toBe('string');
    expect(files[0]).toMatch(/topics\/baking\/\d{4}-\d{2}-\d{2}-sourdough-starter[^/]*\.md$/);
    for (const line of ['doubles in about six hours', 'smells of yoghurt', 'Forwarded from Grandma']) {
      expect(text).toContain(line);
    }
    expect((await gitLog())[0]).toMatch(/^note: Sourdough starter/);

    // The note's memories, over MCP, for the Telegram user's Engram user.
    const client = new Client({ name: 'bot-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { 'x-user-id': `tg-${ALICE}` } },
      }),
    );
    const found = (
      await client.callTool({ name: 'search_memory', arguments: { query: 'how warm should the starter be' } })
    ).structuredContent as { results: { memory: { content: string; source: string } }[] };
    expect(found.results[0]?.memory.content).toContain('24 °C');
    expect(found.results[0]?.memory.source).toBe('kb');
    const kbHits = (await client.callTool({ name: 'kb_search', arguments: { query: 'acetone smell' } }))
      .structuredContent as { results: { path: string }[] };
    expect(kbHits.results[0]?.path).toMatch(/^topics\/baking\//);
    const read = (await client.callTool({ name: 'kb_read', arguments: { path: kbHits.results[0]?.path } }))
      .structuredContent as { note: { body: string; owner: string } };
    expect(read.note.body).toContain('smells of yoghurt');
    expect(read.note.owner).toBe(`tg-${ALICE}`);
    await client.close();

    telegram.sendText(ALICE, '/ask when is the dough ready to bake?');
    const answer = await telegram.waitForSent((message) =>
      message.text.includes('Best matches for “when is the dough'),
    );
    expect(answer.text).toContain('yoghurt');
    expect(answer.text).toContain('topics/baking/');
  }, 60_000);

  it('refuses a user who is not allowed, and leaves no trace in the knowledge base or the store', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb));
    const notesBefore = await notes();
    const commitsBefore = await gitLog();
    telegram.sendText(MALLORY, 'Remember my credit card number 4111 1111 1111 1111');
    telegram.sendText(MALLORY, '/search card');
    const refusal = await telegram.waitForSent((message) => message.chatId === MALLORY);
    expect(refusal.text).toContain('not on its list of users');
    await new Promise((resolve) => setTimeout(resolve, BURST_MS * 2));
    expect(await notes()).toEqual(notesBefore);
    expect(await gitLog()).toEqual(commitsBefore);
    const stored = await server.deps.service.list(`tg-${MALLORY}`);
    expect(stored.items).toEqual([]);
    const everyone = await server.deps.service.search(`tg-${ALICE}`, { query: 'credit card 4111' });
    expect(everyone.results.every((result) => !result.memory.content.includes('4111'))).toBe(true);
  }, 30_000);

  it('does not duplicate a note when the bot restarts in the middle of a burst', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb));
    const before = (await notes()).length;
    telegram.sendText(ALICE, 'Packing list for the Alps trip #travel', { forwardedFrom: 'Bob' });
    telegram.sendText(ALICE, 'Crampons, ice axe, two litres of water.', { forwardedFrom: 'Bob' });
    // Wait until the bot has handled both updates (it confirms them with its next getUpdates
    // offset; they sit in its journal), then "crash" it before the burst window ends.
    for (let i = 0; i < 200 && telegram.pending() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(telegram.pending()).toBe(0);
    await bot.stop({ flush: false });
    bot = null;
    expect((await notes()).length).toBe(before);

    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb));
    await telegram.waitForSent(
      (message) => message.method === 'editMessageText' && message.text.includes('Packing list'),
    );
    // Telegram may deliver the same updates again after a crash; they must not make a second note.
    await new Promise((resolve) => setTimeout(resolve, BURST_MS * 3));
    const after = await notes();
    expect(after.length).toBe(before + 1);
    const packing = after.filter((file) => file.includes('packing-list'));
    expect(packing).toHaveLength(1);
    const text = await readFile(packing[0] as string, 'utf8');
    expect(text).toContain('Crampons, ice axe');
    expect(text.match(/Crampons/g)).toHaveLength(1);
  }, 60_000);

  for (const [kind, clientFor] of [
    ['in the server', () => new LocalClient(server.deps.service, server.deps.kb)],
    ['through a remote server', async () => new HttpClient(server.url, await server.createKey({ admin: true }))],
  ] as const) {
    it(`deletes a note for real, never one of its sections on its own (${kind})`, async () => {
      bot = await startBot(await clientFor(), join(server.dataDir, `bot-notes-${kind.length}`, 'state.json'));
      telegram.sendText(ALICE, `Kayak rental ${kind}: the shed code is 7391 #outdoors`);
      const saved = await telegram.waitForSent(
        (message) => message.method === 'editMessageText' && message.text.includes(`Kayak rental ${kind}`),
      );
      const path = /<code>(topics\/[^<]+)<\/code>/.exec(saved.text)?.[1] as string;
      const user = `tg-${ALICE}`;
      const [section] = (await server.deps.service.search(user, { query: `kayak shed code ${kind}`, limit: 1 }))
        .results;
      expect(section?.memory.metadata.kbPath).toBe(path);
      const sectionId = section?.memory.id as string;

      // A section on its own would come back from the note's file: the bot names the note instead.
      for (const command of ['delete', 'forget']) {
        const after = telegram.sent.length;
        telegram.sendText(ALICE, `/${command} ${sectionId}`);
        await telegram.waitForSent((message) => message.text.includes(`section of your note <code>${path}</code>`), {
          after,
        });
      }
      expect((await server.deps.service.get(user, sectionId)).id).toBe(sectionId);

      // Editing: without text it shows the current one; with text it replaces it in place.
      let after = telegram.sent.length;
      telegram.sendText(ALICE, `/editnote ${path}`);
      await telegram.waitForSent((message) => message.text.includes('the shed code is 7391'), { after });
      after = telegram.sent.length;
      telegram.sendText(ALICE, `/editnote ${path}\nKayak rental ${kind}: the shed code changed to 8402.`);
      await telegram.waitForSent((message) => message.text.includes(`Edited <code>${path}</code>`), { after });
      expect(await readFile(join(kbDir(), path), 'utf8')).toContain('changed to 8402');
      const edited = await server.deps.service.search(user, { query: `kayak shed code ${kind}`, limit: 1 });
      expect(edited.results[0]?.memory.content).toContain('8402');

      telegram.sendText(ALICE, `/deletenote ${path}`);
      await telegram.waitForSent((message) => message.text.includes(`Deleted the note <code>${path}</code>`));
      expect((await notes()).some((file) => file.endsWith(path))).toBe(false);
      expect((await gitLog())[0]).toMatch(/^delete note: Kayak rental/);
      await expect(server.deps.service.get(user, sectionId)).rejects.toThrow(/not found/);

      telegram.sendText(ALICE, `/deletenote ${path}`);
      await telegram.waitForSent((message) => message.text === 'You have no note at that path.');
    }, 120_000);
  }

  it('searches, deletes, restores, forgets, exports and reports status, through a remote server with an admin key', async () => {
    const admin = await server.createKey({ admin: true });
    bot = await startBot(new HttpClient(server.url, admin), join(server.dataDir, 'bot-remote', 'state.json'));
    await server.deps.service.add(
      `tg-${ALICE}`,
      { content: 'My bike lock code is 2468' },
      { name: 'test', source: 'api' },
    );

    telegram.sendText(ALICE, '/search bike lock');
    const results = await telegram.waitForSent((message) => message.text.includes('Best matches for “bike lock'));
    const id = /id <code>([^<]+)<\/code>/.exec(results.text)?.[1] as string;
    expect(id).toBeTruthy();
    expect(results.text).toContain('2468');

    // delete (undoable), restore, then forget (for good): the words mean what they mean everywhere.
    telegram.sendText(ALICE, `/delete ${id}`);
    await telegram.waitForSent((message) => message.text.includes(`Deleted <code>${id}</code>. /restore ${id}`));
    await expect(server.deps.service.get(`tg-${ALICE}`, id)).rejects.toThrow(/not found/);
    telegram.sendText(ALICE, `/restore ${id}`);
    await telegram.waitForSent((message) => message.text.includes(`Restored <code>${id}</code>`));
    expect((await server.deps.service.get(`tg-${ALICE}`, id)).content).toContain('2468');
    telegram.sendText(ALICE, `/forget ${id}`);
    await telegram.waitForSent((message) => message.text.includes(`Forgotten for good: <code>${id}</code>`));
    await expect(server.deps.service.history(`tg-${ALICE}`, id)).rejects.toThrow(/not found/);
    telegram.sendText(ALICE, `/restore ${id}`);
    await telegram.waitForSent((message) => message.text === 'No deleted memory of yours has that id.');

    telegram.sendText(ALICE, '/export');
    const exported = await telegram.waitForSent((message) => message.method === 'sendDocument');
    expect(exported.document?.name).toBe('engram-export.jsonl');
    const lines = (exported.document?.content ?? '')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; memory?: { content: string } });
    expect(lines.some((line) => line.memory?.content.includes('Sourdough starter'))).toBe(true);
    expect(lines.some((line) => line.memory?.content.includes('2468'))).toBe(false);

    telegram.sendText(ALICE, '/status');
    const status = await telegram.waitForSent((message) => message.text.includes('<b>Notes</b>'));
    expect(status.text).toMatch(/<b>Notes<\/b>: 2/);
    expect(status.text).toContain('not configured');

    telegram.sendText(ALICE, '/agent');
    await telegram.waitForSent((message) => message.text.includes('Agent mode needs an LLM'));
    const mark = telegram.sent.length;
    telegram.sendText(ALICE, '/note');
    await telegram.waitForSent((message) => message.text.startsWith('Note mode'), { after: mark });
  }, 60_000);

  it('says nothing relevant was found rather than listing unrelated memories', async () => {
    // The same store and model, with a strict relevance threshold: only a near-identical text counts.
    const strict = new MemoryService({
      store: server.deps.service.store,
      embedder: server.deps.service.embedder,
      search: { ...searchOptions(testConfig({})), minRelevance: 0.95 },
    });
    bot = await startBot(new LocalClient(strict, server.deps.kb));
    await server.deps.service.add(
      `tg-${ALICE}`,
      { content: 'The spare key is under the blue flowerpot' },
      { name: 'test', source: 'api' },
    );
    telegram.sendText(ALICE, '/search The spare key is under the blue flowerpot');
    const found = await telegram.waitForSent((message) => message.text.includes('Best matches for “The spare key'));
    expect(found.text).toContain('blue flowerpot');
    telegram.sendText(ALICE, '/search train times to Leeds');
    const none = await telegram.waitForSent((message) => message.text.includes('train times to Leeds'));
    expect(none.text).toBe('Nothing relevant found for “train times to Leeds”.');
  });

  it('saves a markdown document sent to the bot as a note, keeping its headings', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb));
    telegram.sendDocument(
      ALICE,
      'garden.md',
      '# Garden plan\n\n## Spring\nSow peas in March.\n\n## Autumn\nPlant garlic in October.\n',
    );
    const saved = await telegram.waitForSent((message) => message.text.includes('Saved <b>Garden plan</b>'));
    expect(saved.text).toContain('topics/general/');
    const hits = await server.deps.kb?.search(`tg-${ALICE}`, 'when to plant garlic', 3);
    expect(hits?.[0]?.heading).toBe('Garden plan › Autumn');
  }, 30_000);
});

describe('telegram bot with an LLM', () => {
  let llm: FakeLlm;
  let model: ChatModel;
  beforeAll(async () => {
    llm = await startFakeLlm();
    model = new OpenAiChat({
      baseUrl: llm.baseUrl,
      model: 'scripted',
      timeoutMs: 5_000,
      maxRetries: 0,
      concurrency: 2,
      temperature: 0,
    });
  });
  afterAll(async () => {
    await llm?.close();
  });

  it('answers /ask from memory, citing the notes it used', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb), undefined, model);
    llm.script({ content: 'Keep the starter at 24 °C [1].' });
    telegram.sendText(ALICE, '/ask how warm for the starter?');
    const answer = await telegram.waitForSent((message) => message.text.startsWith('Keep the starter at 24 °C'));
    expect(answer.text).toContain('<b>Sources</b>');
    expect(answer.text).toContain('topics/baking/');
    const prompt = llm.requests.at(-1)?.messages.at(-1)?.content ?? '';
    expect(prompt).toContain('[1]');
    expect(prompt).toContain('24 °C');
  }, 30_000);

  it('runs the agent in agent mode with this chat’s context, and /resetcontext forgets it', async () => {
    bot = await startBot(new LocalClient(server.deps.service, server.deps.kb), undefined, model);
    telegram.sendText(ALICE, '/agent');
    await telegram.waitForSent((message) => message.text.startsWith('Agent mode: talk to the assistant'));
    llm.script(
      { toolCalls: [{ name: 'kb_search', arguments: { query: 'packing list' } }] },
      { content: 'Crampons and an ice axe.' },
    );
    telegram.sendText(ALICE, 'What do I need for the Alps?');
    await telegram.waitForSent((message) => message.text.startsWith('Crampons and an ice axe.'));
    llm.script({ content: 'Two litres of water too.' });
    telegram.sendText(ALICE, 'Anything else?');
    await telegram.waitForSent((message) => message.text.startsWith('Two litres of water too.'));
    const withContext = llm.requests.at(-1)?.messages.map((message) => message.content) ?? [];
    expect(withContext).toContain('What do I need for the Alps?');

    telegram.sendText(ALICE, '/resetcontext');
    await telegram.waitForSent((message) => message.text === 'The agent conversation starts afresh.');
    llm.script({ content: 'Fresh start.' });
    telegram.sendText(ALICE, 'Hello again');
    await telegram.waitForSent((message) => message.text.startsWith('Fresh start.'));
    const fresh = llm.requests.at(-1)?.messages.map((message) => message.content) ?? [];
    expect(fresh).not.toContain('What do I need for the Alps?');
    const mark = telegram.sent.length;
    telegram.sendText(ALICE, '/note');
    await telegram.waitForSent((message) => message.text.startsWith('Note mode'), { after: mark });
  }, 30_000);
});

describe('telegram account linked to an Engram user', () => {
  it('saves and finds notes as the linked user, who needs no separate allowed-ids entry', async () => {
    const config = testConfig({
      dataDir: server.dataDir,
      telegram: { token: telegram.token, apiRoot: telegram.apiRoot, burstMs: BURST_MS, users: `${ALICE}=alice` },
    });
    bot = createBot(config, new LocalClient(server.deps.service, server.deps.kb), createLogger('silent'));
    await bot.start();
    const mark = telegram.sent.length;
    telegram.sendText(ALICE, 'The linked account parks the van on level 3 #car');
    const saved = await telegram.waitForSent(
      (message) => message.method === 'editMessageText' && message.text.includes('parks the van'),
      { after: mark },
    );
    const path = /<code>(topics\/[^<]+)<\/code>/.exec(saved.text)?.[1] as string;
    // What the web UI, MCP and REST see for alice.
    const { results } = await server.deps.service.search('alice', { query: 'where is the van parked?', limit: 3 });
    expect(results[0]?.memory.metadata.kbPath).toBe(path);
    expect((await server.deps.kb?.read('alice', path))?.owner).toBe('alice');
    expect(server.deps.kb?.list(`tg-${ALICE}`).some((note) => note.path === path)).toBe(false);
    telegram.sendText(ALICE, '/settings');
    await telegram.waitForSent((message) => message.text.includes('<code>alice</code>'), { after: mark });
  });

  it('reads ENGRAM_TELEGRAM_USERS and names it when a pair is wrong', () => {
    expect(loadConfig({ env: { ENGRAM_TELEGRAM_USERS: '12345=alice, 678=bob' } }).telegram.users).toEqual({
      '12345': 'alice',
      '678': 'bob',
    });
    expect(() => loadConfig({ env: { ENGRAM_TELEGRAM_USERS: 'alice=12345' } })).toThrow(
      /ENGRAM_TELEGRAM_USERS \(telegram\.users\): expected <Telegram user id>=<Engram user id> pairs/,
    );
  });
});

describe('telegram bot in webhook mode', () => {
  it('takes updates on POST /telegram/webhook with the secret, and refuses calls without it', async () => {
    const config = testConfig({
      dataDir: server.dataDir,
      telegram: {
        token: telegram.token,
        allowedIds: [ALICE],
        apiRoot: telegram.apiRoot,
        webhookUrl: 'https://memory.example.org/telegram/webhook',
        webhookSecret: 'webhook-secret_1',
      },
    });
    const instance = createBot(config, new LocalClient(server.deps.service, server.deps.kb), createLogger('silent'));
    const app = new Hono();
    await startBotRuntime(instance, config, app);
    const setWebhook = telegram.calls.find((call) => call.method === 'setWebhook');
    expect(setWebhook?.params).toMatchObject({
      url: 'https://memory.example.org/telegram/webhook',
      secret_token: 'webhook-secret_1',
    });

    const post = (secret: string | null, update: unknown) =>
      app.request(WEBHOOK_PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(secret && { 'x-telegram-bot-api-secret-token': secret }) },
        body: JSON.stringify(update),
      });
    expect((await post(null, telegram.textUpdate(ALICE, '/status'))).status).toBe(401);
    expect((await post('wrong', telegram.textUpdate(ALICE, '/status'))).status).toBe(401);
    const mark = telegram.sent.length;
    expect((await post('webhook-secret_1', telegram.textUpdate(ALICE, '/status'))).status).toBe(200);
    const status = await telegram.waitForSent((message) => message.text.includes('<b>Notes</b>'), { after: mark });
    expect(status.chatId).toBe(ALICE);
  }, 30_000);
});
