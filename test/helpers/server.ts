import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Redis } from 'ioredis';
import { KeyStore } from '../../src/auth/key-store.js';
import { type ConfigInput, testConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { openService } from '../../src/runtime.js';
import type { AppEnv, ServerDeps } from '../../src/server/request-context.js';
import { startServer } from '../../src/server/server.js';
import { type FakeEmbeddings, startFakeEmbeddings } from './fake-embeddings.js';

export interface TestServer {
  url: string;
  dataDir: string;
  deps: ServerDeps;
  /** The HTTP app, to enumerate its routes. */
  app: OpenAPIHono<AppEnv>;
  /** The deterministic embeddings server behind it, with `embeddings: 'test'`. */
  embeddings?: FakeEmbeddings;
  /** The settings that chose its embedder, for another service or server on the same data dir. */
  embedderConfig: ConfigInput;
  close(): Promise<void>;
  createKey(options: { userId?: string; admin?: boolean }): Promise<string>;
}

/**
 * A real Engram server on 127.0.0.1 (random port) over a temporary data dir. `auth: 'keys'`
 * requires API keys on every request. Embeddings come from the real default model, or with
 * `embeddings: 'test'` from the deterministic bag-of-words model of fake-embeddings.ts, spoken to
 * over the OpenAI wire format: for tests of behaviour other than the model's (it starts in
 * milliseconds rather than seconds, so such a file can join the fast tier — docs/testing.md).
 */
export async function startTestServer(
  options: {
    auth?: 'none' | 'keys' | 'auto';
    store?: 'sqlite' | 'json';
    config?: ConfigInput;
    /** A Redis connection for the embedding cache replicas share (the server closes it). */
    redis?: Redis;
    /** `model` (default): the real default embedder; `test`: the deterministic one. */
    embeddings?: 'model' | 'test';
  } = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-test-'));
  const embeddings = options.embeddings === 'test' ? await startFakeEmbeddings() : undefined;
  const embedderConfig: ConfigInput = embeddings
    ? { embedder: 'openai', openai: { baseUrl: embeddings.baseUrl, model: 'test-embedder', dimension: 32 } }
    : {};
  const config = testConfig({
    port: 0,
    dataDir,
    store: options.store ?? 'sqlite',
    logLevel: 'silent',
    ...embedderConfig,
    ...options.config,
    auth: { mode: options.auth ?? 'none' },
    limits: { rateLimitPerMinute: 0, ...options.config?.limits },
  });
  const service = await openService(config, options.redis ? { redis: options.redis } : {});
  const server = await startServer(config, service, createLogger('silent'), options.redis);
  const keys = new KeyStore(dataDir);
  return {
    url: server.url,
    dataDir,
    deps: server.deps,
    app: server.app,
    ...(embeddings && { embeddings }),
    embedderConfig,
    async close() {
      await server.close();
      await embeddings?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
    async createKey({ userId, admin }) {
      return (await keys.create({ ...(userId !== undefined && { userId }), ...(admin !== undefined && { admin }) }))
        .key;
    },
  };
}
