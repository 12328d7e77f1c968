import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/auth/key-store.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { openService } from '../../src/runtime.js';
import { startServer } from '../../src/server/server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Authentication that never fails open: lost key files, revoked keys on open streams, web origins, batched calls. */
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, server?.url), { headers });

const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** Opens a Streamable HTTP session by hand; returns its id. */
async function openSession(key: string): Promise<string> {
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${key}` };
  const response = await fetch(new URL('/mcp', server?.url), {
    method: 'POST',
    headers,
    body: JSON.stringify(initialize),
  });
  expect(response.status).toBe(200);
  await response.text();
  const id = response.headers.get('mcp-session-id') as string;
  const initialized = await fetch(new URL('/mcp', server?.url), {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': id },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return id;
}

/** Resolves 'closed' when the stream ends, or 'open' if it is still open after `ms`. */
async function streamState(response: Response, ms: number): Promise<'closed' | 'open'> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      void reader.cancel().catch(() => undefined);
      return 'open';
    }
    const next = await Promise.race([
      reader.read().then(
        (chunk) => (chunk.done ? 'closed' : 'data'),
        () => 'closed',
      ),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), left)),
    ]);
    if (next === 'closed') return 'closed';
    if (next === 'timeout') {
      void reader.cancel().catch(() => undefined);
      return 'open';
    }
  }
}

describe('a lost key file never turns authentication off', () => {
  it('refuses every request, and a restart, once keys.json is gone where keys existed; `keys reset` goes back on purpose', async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'auto' });
    const key = await server.createKey({ admin: true });
    expect((await get('/v1/memories')).status).toBe(401);
    expect((await get('/v1/memories', { authorization: `Bearer ${key}` })).status).toBe(200);

    await rm(join(server.dataDir, 'keys.json'));
    const keyless = await get('/v1/memories');
    expect(keyless.status).toBe(503);
    // The reason (it names a file) goes to the server log; the client gets the stable code.
    expect(((await keyless.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect((await get('/v1/memories', { authorization: `Bearer ${key}` })).status).toBe(503);
    const mcp = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify(initialize),
    });
    expect(mcp.status).toBe(503);

    // A second server on this data directory refuses to start.
    const config = testConfig({
      ...server.embedderConfig,
      port: 0,
      dataDir: server.dataDir,
      logLevel: 'silent',
      auth: { mode: 'auto' },
    });
    const service = await openService(config);
    try {
      await expect(startServer(config, service, createLogger('silent'))).rejects.toMatchObject({
        code: 'unavailable',
        message: expect.stringMatching(/keys\.json is missing.*engram keys reset/),
      });
    } finally {
      await service.close();
    }

    // Going back to keyless local mode is an explicit act.
    new KeyStore(server.dataDir).reset();
    expect((await get('/v1/memories')).status).toBe(200);
  });
});

describe('open MCP streams of a revoked key', () => {
  it('closes a revoked key’s GET /mcp stream and its legacy /sse stream within seconds', async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'keys' });
    const key = await server.createKey({ userId: 'alice' });
    const other = await server.createKey({ userId: 'bob' });
    const auth = (k: string) => ({ authorization: `Bearer ${k}` });

    const session = await openSession(key);
    const stream = await get('/mcp', { ...auth(key), accept: 'text/event-stream', 'mcp-session-id': session });
    expect(stream.status).toBe(200);
    const sse = await get('/sse', { ...auth(key), accept: 'text/event-stream' });
    expect(sse.status).toBe(200);
    // Another key's stream is not touched.
    const bobSession = await openSession(other);
    const bobStream = await get('/mcp', { ...auth(other), accept: 'text/event-stream', 'mcp-session-id': bobSession });

    const store = new KeyStore(server.dataDir);
    const record = store.list().find((k) => k.userId === 'alice');
    await store.revoke(record?.id as string);
    const [mcpState, sseState, bobState] = await Promise.all([
      streamState(stream, 10_000),
      streamState(sse, 10_000),
      streamState(bobStream, 5_000),
    ]);
    expect(mcpState).toBe('closed');
    expect(sseState).toBe('closed');
    expect(bobState).toBe('open');
  }, 30_000);
});

describe('MCP over HTTP with keys validates Origin', () => {
  it('refuses a foreign web origin, admits the server’s own and a listed one, and clients without Origin', async () => {
    server = await startTestServer({
      embeddings: 'test',
      auth: 'keys',
      config: { mcp: { allowedOrigins: 'https://app.example.org' } },
    });
    const key = await server.createKey({ userId: 'alice' });
    const post = (origin?: string) =>
      fetch(new URL('/mcp', server?.url), {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${key}`, ...(origin && { origin }) },
        body: JSON.stringify(initialize),
      });
    const foreign = await post('https://evil.example');
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { message: string } }).error.message).toMatch(
      /ENGRAM_MCP_ALLOWED_ORIGINS/,
    );
    expect((await get('/sse', { authorization: `Bearer ${key}`, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(new URL(server.url).origin)).status).toBe(200);
    expect((await post('https://app.example.org')).status).toBe(200);
    expect((await post()).status).toBe(200);
  });
});

describe('MCP rate limits count calls, not HTTP requests', () => {
  it('counts each JSON-RPC request of a batch against the per-minute limit', async () => {
    server = await startTestServer({
      embeddings: 'test',
      auth: 'keys',
      config: { limits: { rateLimitPerMinute: 10 } },
    });
    const key = await server.createKey({ userId: 'alice' });
    const session = await openSession(key); // 2 posts
    const calls = Array.from({ length: 12 }, (_, i) => ({
      jsonrpc: '2.0',
      id: 10 + i,
      method: 'tools/call',
      params: { name: 'list_categories', arguments: {} },
    }));
    const batch = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${key}`, 'mcp-session-id': session },
      body: JSON.stringify(calls),
    });
    expect(batch.status).toBe(429);
    expect(Number(batch.headers.get('retry-after'))).toBeGreaterThan(0);
    // The bucket is spent for REST as well: one limit per key.
    expect((await get('/v1/memories', { authorization: `Bearer ${key}` })).status).toBe(429);
  });
});
