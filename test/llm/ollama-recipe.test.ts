import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * docs/llm.md's Ollama recipe, as written, in a `.env` beside where the server starts: one
 * setting points chat and embeddings at one OpenAI-compatible server (a fake speaking Ollama's
 * OpenAI wire format on its own port instead of localhost:11434).
 */
const docs = readFileSync(new URL('../../docs/llm.md', import.meta.url), 'utf8');
const recipe = /<!-- recipe: ollama-localhost[^>]*-->\n```sh\n([\s\S]*?)```/.exec(docs)?.[1] as string;

let root: string;
let ollama: FakeLlm;
let server: ServerProcess;

beforeAll(async () => {
  expect(recipe, 'docs/llm.md has the ollama-localhost recipe').toBeTruthy();
  root = await tempDir('engram-ollama-recipe-');
  ollama = await startFakeLlm({ embeddingDimension: 768 });
  await writeFile(join(root, '.env'), recipe.replace('http://localhost:11434/v1', ollama.baseUrl));
  server = await spawnServer(['--data-dir', join(root, 'data')], {}, { cwd: root });
}, 120_000);
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await ollama?.close();
});

describe("docs/llm.md's Ollama recipe", () => {
  it('sets both base URLs from the one setting, and each own setting still wins', () => {
    const env = Object.fromEntries(
      recipe
        .split('\n')
        .filter((line) => /^[A-Z]/.test(line))
        .map((line) => line.split('=') as [string, string]),
    );
    const config = loadConfig({ env });
    expect(config.llm.baseUrl).toBe('http://localhost:11434/v1');
    expect(config.openai.baseUrl).toBe('http://localhost:11434/v1');
    const own = loadConfig({ env: { ...env, ENGRAM_OPENAI_BASE_URL: 'http://tei:8080/v1' } });
    expect(own.openai.baseUrl).toBe('http://tei:8080/v1');
    expect(own.llm.baseUrl).toBe('http://localhost:11434/v1');
  });

  it('embeds memories and chats through the one server, with the models it names', async () => {
    const added = await fetch(`${server.url}/v1/memories`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'I parked the van on level 3 of the station garage.', infer: false }),
    });
    expect(added.status, await added.clone().text()).toBe(201);
    expect(ollama.embedded.some((request) => request.model === 'nomic-embed-text')).toBe(true);

    ollama.script({ content: 'On level 3 of the station garage.' });
    const chat = await fetch(`${server.url}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Where did I park?' }] }),
    });
    expect(chat.status, await chat.clone().text()).toBe(200);
    expect(JSON.stringify(await chat.json())).toContain('level 3');
    expect(ollama.requests.at(-1)?.model).toBe('qwen2.5:7b');
  });
});
