import { describe, expect, it } from 'vitest';
import { embedderOptions, parseStoreSpec, storeOptions } from '../../src/backends.js';
import { testConfig } from '../../src/config.js';
import { EngramError } from '../../src/core/errors.js';
import { embedders } from '../../src/embed/registry.js';
import { chatProviders, createChatProvider } from '../../src/llm/registry.js';
import { createStore, stores } from '../../src/stores/registry.js';

/**
 * Stores, embedders and chat providers are chosen through registries of one shape — each entry
 * its own options' schema and `create` — and the config, the runtime and the CLI's store specs
 * all fill those options from the same settings.
 */
describe('backend registries', () => {
  it('every entry of the three registries is a schema of its own options and a create', () => {
    for (const registry of [stores, embedders, chatProviders]) {
      for (const entry of Object.values(registry)) {
        expect(typeof entry.schema.safeParse).toBe('function');
        expect(typeof entry.create).toBe('function');
      }
    }
  });

  it('validates options before building, naming the backend and the option', () => {
    const attempt = (work: () => unknown): EngramError => {
      try {
        work();
      } catch (error) {
        expect(error).toBeInstanceOf(EngramError);
        return error as EngramError;
      }
      throw new Error('expected a failure');
    };
    const store = attempt(() => createStore('postgres', { url: '' }));
    expect(store.code).toBe('invalid_request');
    expect(store.message).toMatch(/invalid postgres store config: .*url/s);
    const chat = attempt(() =>
      createChatProvider('anthropic', {
        apiKey: '',
        model: 'm',
        timeoutMs: 1000,
        maxRetries: 0,
        concurrency: 1,
        temperature: 0,
      }),
    );
    expect(chat.message).toMatch(/invalid anthropic LLM provider config: .*apiKey/s);
  });

  it('gives the JSON store its data directory and nothing of SQLite’s settings', () => {
    const config = testConfig({
      dataDir: '/srv/engram',
      sqlite: {
        synchronous: 'normal',
        readers: 3,
        busyTimeoutMs: 750,
        cacheMb: 256,
        mmapMb: 512,
        annMinMemories: 5_000,
        annThreads: 2,
        annMemory: 'load',
      },
    });
    expect(storeOptions(config, 'json')).toEqual({ dataDir: '/srv/engram' });
    expect(storeOptions(config, 'sqlite')).toEqual({
      dataDir: '/srv/engram',
      synchronous: 'normal',
      readers: 3,
      busyTimeoutMs: 750,
      cacheMb: 256,
      mmapMb: 512,
      annMinMemories: 5_000,
      annThreads: 2,
      annMemory: 'load',
    });
  });

  it('gives each embedder the settings of its own, with the shared ones', () => {
    const config = testConfig({ embedder: 'use', onnx: { path: '/models/e5' }, embed: { queryWorker: false } });
    expect(embedderOptions(config, 'onnx')).toEqual({
      path: '/models/e5',
      maxBatchSize: 32,
      prefix: '',
      queryWorker: false,
    });
    expect(embedderOptions(config, 'use')).toEqual({ backend: 'onnx', queryWorker: false });
  });
});

describe('store specs (engram migrate-store --from/--to)', () => {
  const config = testConfig({
    dataDir: '/srv/engram',
    sqlite: { synchronous: 'normal' },
    postgres: { url: 'postgres://configured/db', schema: 'other', poolMax: 4 },
  });

  it('take the configured settings of that store, with the location in place of the one set', () => {
    expect(parseStoreSpec('sqlite:/tmp/a.db', config)).toEqual({
      name: 'sqlite',
      options: {
        dataDir: '/srv/engram',
        path: '/tmp/a.db',
        synchronous: 'normal',
        readers: 2,
        busyTimeoutMs: 5_000,
        cacheMb: 64,
        mmapMb: 2_047,
        annMinMemories: 20_000,
        annThreads: 1,
        annMemory: 'map',
      },
    });
    expect(parseStoreSpec('json:/tmp/json-data', config)).toEqual({
      name: 'json',
      options: { dataDir: '/tmp/json-data' },
    });
    expect(parseStoreSpec('postgresql://u@h/other', config)).toEqual({
      name: 'postgres',
      options: {
        url: 'postgresql://u@h/other',
        schema: 'other',
        poolMax: 4,
        statementTimeoutMs: 15_000,
        hnsw: true,
        efSearch: 100,
      },
    });
  });

  it('refuse a spec without a location, or of a store there is none of', () => {
    expect(() => parseStoreSpec('sqlite:', config)).toThrow('expected <store>:<location>, got sqlite:');
    expect(() => parseStoreSpec('mongo:x', config)).toThrow('unknown store "mongo": use sqlite:, json: or postgres:');
  });
});
