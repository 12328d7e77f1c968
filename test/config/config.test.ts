import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARS, loadConfig } from '../../src/config.js';
import { EngramError, isPrivateError } from '../../src/core/errors.js';
import { AnthropicChat, createChatModel, OpenAiChat } from '../../src/llm/index.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('configuration', () => {
  it('defaults to the embedded, offline, loopback setup', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8765, store: 'sqlite', embedder: 'use' });
    expect(Object.isFrozen(config) && Object.isFrozen(config.search)).toBe(true);
  });

  it('reads ENGRAM_* variables, with flags winning over env and env over the file', async () => {
    const dir = await tempDir('engram-config-');
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ port: 1111, store: 'json', search: { vectorWeight: 0.25 } }));
    const config = loadConfig({
      env: { ENGRAM_PORT: '2222', ENGRAM_SEARCH_KEYWORD_WEIGHT: '2' },
      file,
      overrides: { port: 3333 },
    });
    expect(config.port).toBe(3333);
    expect(config.store).toBe('json');
    expect(config.search).toMatchObject({ keywordWeight: 2, vectorWeight: 0.25 });
    await writeFile(join(dir, 'secret'), 'sk-from-file\n');
    expect(loadConfig({ env: { ENGRAM_OPENAI_API_KEY_FILE: join(dir, 'secret') } }).openai.apiKey).toBe('sk-from-file');
  });

  it('a settings error is an EngramError whose text stays on the server (it may name files and hosts)', () => {
    const error = (() => {
      try {
        loadConfig({ env: { ENGRAM_PORT: 'eighty' } });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(EngramError);
    expect(isPrivateError(error)).toBe(true);
  });

  it('fails fast naming the variable', () => {
    expect(() => loadConfig({ env: { ENGRAM_PORT: 'eighty' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { ENGRAM_PORT: 'eighty' } })).toThrow(/ENGRAM_PORT \(port\)/);
    expect(() => loadConfig({ env: { ENGRAM_STORE: 'mongo' } })).toThrow(/ENGRAM_STORE/);
    expect(() => loadConfig({ env: { ENGRAM_EMBEDDER: 'onnx' } })).toThrow(
      /ENGRAM_ONNX_PATH \(onnx\.path\): a model directory is required/,
    );
    expect(() => loadConfig({ env: { ENGRAM_STORE: 'postgres' } })).toThrow(
      /ENGRAM_POSTGRES_URL \(postgres\.url\): a database URL is required/,
    );
    expect(() => loadConfig({ env: { ENGRAM_MCP_STATELESS: 'perhaps' } })).toThrow(/ENGRAM_MCP_STATELESS/);
    expect(loadConfig({ env: { ENGRAM_MCP_STATELESS: 'true' } }).mcp.stateless).toBe(true);
    expect(loadConfig({ env: { ENGRAM_MCP_STATELESS: '0' } }).mcp.stateless).toBe(false);
  });

  it('selects the LLM provider from its registry, requires a key for Anthropic and reads prices', async () => {
    expect(() => loadConfig({ env: { ENGRAM_LLM_PROVIDER: 'gemini' } })).toThrow(
      /ENGRAM_LLM_PROVIDER \(llm\.provider\)/,
    );
    expect(() => loadConfig({ env: { ENGRAM_LLM_PROVIDER: 'anthropic' } })).toThrow(
      /ENGRAM_LLM_API_KEY \(llm\.apiKey\): an API key is required when ENGRAM_LLM_PROVIDER=anthropic/,
    );
    const dir = await tempDir('engram-config-');
    await writeFile(join(dir, 'key'), 'sk-ant-from-file\n');
    const config = loadConfig({
      env: {
        ENGRAM_LLM_PROVIDER: 'anthropic',
        ENGRAM_LLM_API_KEY_FILE: join(dir, 'key'),
        ENGRAM_LLM_MODEL: 'claude-haiku-4-5',
        ENGRAM_LLM_PRICE_PROMPT_PER_MTOK: '1',
        ENGRAM_LLM_PRICE_COMPLETION_PER_MTOK: '5',
      },
    });
    expect(config.llm).toMatchObject({
      provider: 'anthropic',
      apiKey: 'sk-ant-from-file',
      pricePromptPerMTok: 1,
      priceCompletionPerMTok: 5,
    });
    // No base URL unless one is set: each provider has its own default.
    expect(config.llm.baseUrl).toBeUndefined();
    expect(createChatModel(config)).toBeInstanceOf(AnthropicChat);
    expect(createChatModel(loadConfig({ env: { ENGRAM_LLM_PROVIDER: 'openai' } }))).toBeInstanceOf(OpenAiChat);
    expect(createChatModel(loadConfig({ env: {} }))).toBeNull();
    expect(() => loadConfig({ env: { ENGRAM_LLM_PRICE_PROMPT_PER_MTOK: '-1' } })).toThrow(
      /ENGRAM_LLM_PRICE_PROMPT_PER_MTOK/,
    );
  });

  it('documents every environment variable in docs/configuration.md', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const missing = Object.keys(ENV_VARS).filter((name) => !docs.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
