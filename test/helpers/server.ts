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

export interface TestServer {
  url: string;
  dataDir: string;
  deps: ServerDeps;
  /** The HTTP app, to enumerate its routes. */
  app: OpenAPIHono<AppEnv>;
  close(): Promise<void>;
  createKey(options: { userId?: string; admin?: boolean }): Promise<string>;
}

/**
 * A real Engram server on 127.0.0.1 (random port) over a temporary data dir, with the real
 * default embedder. `auth: 'keys'` requires API keys on every request.
 */
export async function startTestServer(
  options: {
    auth?: 'none' | 'keys' | 'auto';
    store?: 'sqlite' | 'json';
    config?: ConfigInput;
    /** A Redis connection for the embedding cache replicas share (the server closes it). */
    redis?: Redis;
  } = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-test-'));
  const config = testConfig({
    port: 0,
    dataDir,
    store: options.store ?? 'sqlite',
    logLevel: 'silent',
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
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
    async createKey({ userId, admin }) {
      return (await keys.create({ ...(userId !== undefined && { userId }), ...(admin !== undefined && { admin }) }))
        .key;
    },
  };
}
