import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { OpenAPIHono } from '@hono/zod-openapi';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryService } from '../../src/core/memory-service.js';
import { errorHandler } from '../../src/server/errors.js';
import { type McpHandle, type McpHttpOptions, mountMcp } from '../../src/server/mcp/http.js';
import { KB_TOOL_NAMES } from '../../src/server/mcp/kb-tools.js';
import { createMcpServer, TOOL_NAMES } from '../../src/server/mcp/tools.js';
import type { AppEnv, ServerDeps } from '../../src/server/request-context.js';
import { call, data, expectToolError, type StoredMemory, store, text } from '../helpers/mcp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Kind = 'mcp' | 'sse';

const open: Client[] = [];

async function connect(url: string, kind: Kind, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'engram-test', version: '0.0.0' });
  const transport =
    kind === 'mcp'
      ? new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers } })
      : new SSEClientTransport(new URL('/sse', url), { requestInit: { headers } });
  await client.connect(transport);
  open.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('MCP over HTTP without keys', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The real model: some searches here share no word with the memory they find ('where to park').
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lists all tools, each described and with an input schema', async () => {
    const client = await connect(server.url, 'mcp');
    const { tools } = await client.listTools();
    // The server has a knowledge base (the default), so the kb_* tools are there too.
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOL_NAMES, ...KB_TOOL_NAMES].sort());
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(40);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
    }
    const storeTool = tools.find((tool) => tool.name === 'store_memory');
    expect(storeTool?.inputSchema.required).toEqual(['content']);
    expect(Object.keys(storeTool?.inputSchema.properties ?? {}).sort()).toEqual([
      'async',
      'category',
      'content',
      'metadata',
      'sessionId',
      'tags',
    ]);
    expect(client.getInstructions()).toContain('store_memory');
  });

  it('stores in the background with async: true, and get_job reports the outcome to its user only', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'async-mcp' });
    const accepted = data<{ success: boolean; job: { id: string; status: string; kind: string } }>(
      await call(client, 'store_memory', { content: 'The user parks on level 3.', tags: ['car'], async: true }),
    );
    expect(accepted).toMatchObject({ success: true, job: { kind: 'add', status: 'queued' } });
    let job: { status: string; attempts: number; result?: { memory: StoredMemory; duplicate: boolean } } | undefined;
    for (let i = 0; i < 400; i++) {
      job = data<{ job: NonNullable<typeof job> }>(await call(client, 'get_job', { id: accepted.job.id })).job;
      if (job.status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(job).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      result: { duplicate: false, memory: { content: 'The user parks on level 3.', tags: ['car'] } },
    });
    const found = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', { query: 'where to park' }));
    expect(found.memories[0]?.id).toBe(job?.result?.memory.id);

    const stranger = await connect(server.url, 'mcp', { 'x-user-id': 'someone-else' });
    expectToolError(await call(stranger, 'get_job', { id: accepted.job.id }), 'not_found');
    // What a synchronous store refuses, an async one refuses too, at once.
    expectToolError(
      await call(client, 'store_memory', { content: 'x', category: '../up', async: true }),
      'invalid_request',
    );
  });

  for (const kind of ['mcp', 'sse'] as const) {
    it(`stores and retrieves a memory over ${kind === 'mcp' ? 'Streamable HTTP (/mcp)' : 'legacy SSE (/sse)'}`, async () => {
      const client = await connect(server.url, kind, { 'x-user-id': `roundtrip-${kind}` });
      const stored = await call(client, 'store_memory', {
        content: 'The user adopted a grey cat named Miso in March.',
        category: 'pets',
        tags: ['cat', 'family'],
        metadata: { source: 'chat' },
      });
      const created = data<{ success: boolean; memory_id: string; duplicate: boolean; memory: StoredMemory }>(stored);
      expect(created).toMatchObject({
        success: true,
        duplicate: false,
        memory: { category: 'pets', tags: ['cat', 'family'] },
      });
      expect(text(stored)).toContain(created.memory_id);

      const again = await call(client, 'store_memory', { content: 'The user adopted a grey cat named Miso in March.' });
      expect(data<{ memory_id: string; duplicate: boolean }>(again)).toMatchObject({
        memory_id: created.memory_id,
        duplicate: true,
      });
      expect(text(again)).toMatch(/already/i);

      await store(client, {
        content: 'Quarterly planning meeting moved to Thursday.',
        category: 'work',
        tags: ['meeting'],
      });

      const found = await call(client, 'retrieve_memory', { query: 'what is the name of the cat?' });
      const hits = data<{ count: number; memories: (StoredMemory & { score: number })[] }>(found);
      expect(hits.memories[0]?.id).toBe(created.memory_id);
      expect(hits.memories[0]?.score).toBeGreaterThan(0);
      expect(text(found)).toContain('Miso');

      const recent = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', {}));
      expect(recent.memories.map((memory) => memory.content)).toEqual([
        'Quarterly planning meeting moved to Thursday.',
        'The user adopted a grey cat named Miso in March.',
      ]);
      const byCategory = data<{ memories: StoredMemory[] }>(
        await call(client, 'retrieve_memory', { category: 'work' }),
      );
      expect(byCategory.memories.map((memory) => memory.category)).toEqual(['work']);
      const byTag = data<{ memories: StoredMemory[] }>(
        await call(client, 'retrieve_memory', { query: 'cat', tags: ['meeting'] }),
      );
      expect(byTag.memories.every((memory) => memory.tags.includes('meeting'))).toBe(true);

      const categories = await call(client, 'list_categories');
      expect(data<{ categories: { name: string; count: number }[] }>(categories).categories).toEqual([
        { name: 'pets', count: 1 },
        { name: 'work', count: 1 },
      ]);
      expect(text(categories)).toContain('pets: 1');
    });
  }

  it('explains why each search result ranked', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'searcher' });
    const id = await store(client, {
      content: 'The espresso machine needs descaling every two months.',
      tags: ['kitchen'],
    });
    await store(client, { content: 'Renew the passport before the trip to Japan.' });

    const result = await call(client, 'search_memory', { query: 'espresso descaling', limit: 5 });
    const { results } = data<{
      results: {
        memory: StoredMemory;
        score: number;
        explanation: {
          mode: string;
          keyword: { rank: number } | null;
          vector: { rank: number; similarity: number } | null;
        };
      }[];
    }>(result);
    expect(results[0]?.memory.id).toBe(id);
    expect(results[0]?.explanation.mode).toBe('hybrid');
    expect(results[0]?.explanation.keyword?.rank).toBe(1);
    expect(results[0]?.explanation.vector?.similarity).toBeGreaterThan(0);
    expect(text(result)).toMatch(/keyword rank 1 .*vector rank \d+ \(similarity 0\.\d+\)/);

    const keywordOnly = data<{ results: { explanation: { mode: string; vector: unknown } }[] }>(
      await call(client, 'search_memory', { query: 'passport', mode: 'keyword' }),
    );
    expect(keywordOnly.results).toHaveLength(1);
    expect(keywordOnly.results[0]?.explanation).toMatchObject({ mode: 'keyword', vector: null });

    const filtered = data<{ results: { memory: StoredMemory }[] }>(
      await call(client, 'search_memory', { query: 'espresso machine', tagsAll: ['kitchen'] }),
    );
    expect(filtered.results.map((result) => result.memory.id)).toEqual([id]);
    // The only memory the filter lets through has nothing to do with passports: no relevant memory.
    const unrelated = await call(client, 'search_memory', { query: 'passport', tagsAll: ['kitchen'] });
    expect(data<{ results: unknown[] }>(unrelated).results).toEqual([]);
    expect(text(unrelated)).toMatch(/^No relevant memory for "passport"/);
  });

  it('stores a conversation with a sessionId and explains context boosts in search', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'talker' });
    const question = await store(client, {
      content: 'Sam: Which bakery makes the sourdough you brought?',
      sessionId: 'thread-9',
    });
    const answer = await store(client, {
      content: 'Kim: Brot & Zeit on the corner, every Saturday.',
      sessionId: 'thread-9',
    });
    const result = await call(client, 'search_memory', { query: 'sourdough bakery', limit: 5 });
    const { results } = data<{
      results: { memory: StoredMemory; explanation: { context: { from: { id: string; offset: number }[] } | null } }[];
    }>(result);
    const lifted = results.find((r) => r.memory.id === answer);
    expect(lifted?.explanation.context?.from).toContainEqual({ id: question, offset: -1 });
    expect(text(result)).toMatch(/conversation context \+[\d.e-]+ from the memories 1 before/);
  });

  it('records updates in the memory history and keeps history after a delete', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'editor' });
    const id = await store(client, { content: 'The dentist appointment is on May 3.', category: 'health' });

    const updated = await call(client, 'update_memory', {
      id,
      content: 'The dentist appointment moved to May 10.',
      tags: ['dentist'],
    });
    expect(data<{ memory: StoredMemory; changed: string[] }>(updated)).toMatchObject({
      memory: { id, content: 'The dentist appointment moved to May 10.', category: 'health', tags: ['dentist'] },
      changed: ['content', 'tags'],
    });

    const history = await call(client, 'memory_history', { id });
    const entries = data<{
      history: { event: string; actor: string; before: StoredMemory | null; after: StoredMemory | null }[];
    }>(history).history;
    expect(entries.map((entry) => entry.event)).toEqual(['add', 'update']);
    expect(entries[1]?.before?.content).toBe('The dentist appointment is on May 3.');
    expect(entries[1]?.after?.content).toBe('The dentist appointment moved to May 10.');
    expect(text(history)).toContain('May 3');
    expect(text(history)).toContain('May 10');

    const deleted = await call(client, 'delete_memory', { id });
    expect(data<{ deleted: StoredMemory }>(deleted).deleted.id).toBe(id);
    expectToolError(await call(client, 'delete_memory', { id }), 'not_found');
    expectToolError(await call(client, 'update_memory', { id, content: 'anything' }), 'not_found');
    const recent = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', { query: 'dentist' }));
    expect(recent.memories.map((memory) => memory.id)).not.toContain(id);
    const after = data<{ history: { event: string }[] }>(await call(client, 'memory_history', { id }));
    expect(after.history.map((entry) => entry.event)).toEqual(['add', 'update', 'delete']);

    // list_deleted_memories finds it (as it was when deleted), and only the deleted ones.
    const kept = await store(client, { content: 'The gym opens at 7 on Saturdays.' });
    const listed = await call(client, 'list_deleted_memories', {});
    const trash = data<{ items: { memory: StoredMemory; deletedAt: string; deletedBy: string }[] }>(listed);
    expect(trash.items.map((item) => item.memory.id)).toEqual([id]);
    expect(trash.items[0]).toMatchObject({
      memory: { content: 'The dentist appointment moved to May 10.' },
      deletedAt: expect.any(String),
      deletedBy: expect.any(String),
    });
    expect(text(listed)).toContain('The dentist appointment moved to May 10.');
    expect(text(listed)).not.toContain('gym');
    expect(kept).not.toBe(id);

    // restore_memory undoes the deletion: same id, the updated content, findable again.
    const restored = await call(client, 'restore_memory', { id });
    expect(data<{ memory: StoredMemory }>(restored).memory).toMatchObject({
      id,
      content: 'The dentist appointment moved to May 10.',
      tags: ['dentist'],
    });
    expect(text(restored)).toContain(`Restored memory ${id}`);
    const found = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', { query: 'dentist' }));
    expect(found.memories.map((memory) => memory.id)).toContain(id);
    expectToolError(await call(client, 'restore_memory', { id }), 'conflict');
    expectToolError(await call(client, 'restore_memory', { id: 'no-such-memory' }), 'not_found');
    const restoredHistory = data<{ history: { event: string }[] }>(await call(client, 'memory_history', { id }));
    expect(restoredHistory.history.map((entry) => entry.event)).toEqual(['add', 'update', 'delete', 'restore']);

    // forget_memory erases it for good: not found, no history, nothing to restore.
    const forgotten = await call(client, 'forget_memory', { id });
    expect(data<{ forgotten: string }>(forgotten)).toEqual({ forgotten: id });
    expect(text(forgotten)).toContain(`Forgot memory ${id}`);
    const gone = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', { query: 'dentist' }));
    expect(gone.memories.map((memory) => memory.id)).not.toContain(id);
    expectToolError(await call(client, 'memory_history', { id }), 'not_found');
    expectToolError(await call(client, 'restore_memory', { id }), 'not_found');
    expectToolError(await call(client, 'forget_memory', { id }), 'not_found');
    const empty = await call(client, 'list_deleted_memories', {});
    expect(data<{ items: unknown[] }>(empty).items).toEqual([]);
    expect(text(empty)).toBe('No deleted memories: nothing to restore.');
  });

  it('refuses delete_memory and forget_memory on one section of a note (conflict naming the note)', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'note-sections' });
    const written = data<{ path: string; memoryIds: string[] }>(
      await call(client, 'kb_add_note', {
        body: '# Garden\n\n## Roses\nPrune the roses in March.',
        category: 'garden',
      }),
    );
    const [id] = written.memoryIds as [string];
    for (const tool of ['delete_memory', 'forget_memory']) {
      const refused = await call(client, tool, { id });
      expectToolError(refused, 'conflict');
      expect(text(refused)).toContain(written.path);
    }
    // The section is still there and found.
    const found = data<{ memories: StoredMemory[] }>(await call(client, 'retrieve_memory', { query: 'prune roses' }));
    expect(found.memories.map((memory) => memory.id)).toContain(id);
    expect(data<{ items: unknown[] }>(await call(client, 'list_deleted_memories', {})).items).toEqual([]);
  });

  it('pages through memories with a cursor', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'pager' });
    for (const n of [1, 2, 3])
      await store(client, { content: `Note number ${n} about the garden.`, category: 'garden' });
    const first = await call(client, 'list_memories', { limit: 2 });
    const page = data<{ items: StoredMemory[]; nextCursor: string | null }>(first);
    expect(page.items.map((memory) => memory.content)).toEqual([
      'Note number 3 about the garden.',
      'Note number 2 about the garden.',
    ]);
    expect(page.nextCursor).toEqual(expect.any(String));
    expect(text(first)).toContain(page.nextCursor as string);
    const second = data<{ items: StoredMemory[]; nextCursor: string | null }>(
      await call(client, 'list_memories', { limit: 2, cursor: page.nextCursor }),
    );
    expect(second.items.map((memory) => memory.content)).toEqual(['Note number 1 about the garden.']);
    expect(second.nextCursor).toBeNull();
  });

  it('turns bad input into tool errors, not protocol errors', async () => {
    const client = await connect(server.url, 'mcp', { 'x-user-id': 'careless' });
    expectToolError(await call(client, 'update_memory', { id: 'no-such-memory', content: 'x' }), 'not_found');
    expectToolError(await call(client, 'memory_history', { id: 'no-such-memory' }), 'not_found');
    expectToolError(await call(client, 'store_memory', { content: '   ' }), 'invalid_request');
    expectToolError(await call(client, 'store_memory', { content: 'x', category: '../etc' }), 'invalid_request');
    expectToolError(await call(client, 'list_memories', { cursor: 'not-a-cursor' }), 'invalid_request');
    const id = await store(client, { content: 'Something to edit.' });
    expectToolError(await call(client, 'update_memory', { id }), 'invalid_request');
    // Arguments the schema rejects are tool errors too (reported by the SDK).
    const wrongType = await call(client, 'retrieve_memory', { limit: 0 });
    expect(wrongType.isError).toBe(true);
    expect(text(wrongType)).toMatch(/limit/);
  });

  it('refuses cross-origin browser requests when no keys are configured', async () => {
    const response = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        origin: 'http://evil.example',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('reads chunked request bodies (no Content-Length) that the body limit buffered', async () => {
    const chunked = (value: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      return new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, 10));
          controller.enqueue(bytes.slice(10));
          controller.close();
        },
      });
    };
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(new URL('/mcp', server.url), {
        method: 'POST',
        headers: { ...mcpHeaders, ...headers },
        body: chunked(body),
        duplex: 'half',
      } as RequestInit);
    const init = await post(initialize);
    expect(init.status).toBe(200);
    await init.body?.cancel();
    const sessionId = init.headers.get('mcp-session-id') as string;
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);
    const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('store_memory');
  });

  it('closes a session on DELETE', async () => {
    const client = await connect(server.url, 'mcp');
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId as string;
    await transport.terminateSession();
    const response = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
  });
});

describe('MCP with API keys', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let admin: string;
  const auth = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

  beforeAll(async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'keys' });
    alice = await server.createKey({ userId: 'alice' });
    bob = await server.createKey({ userId: 'bob' });
    admin = await server.createKey({ admin: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  const rpc = (
    path: string,
    headers: Record<string, string>,
    body: unknown = { jsonrpc: '2.0', id: 7, method: 'tools/list' },
  ) =>
    fetch(new URL(path, server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });

  it('answers 401 without a valid key, before any MCP handling', async () => {
    for (const headers of [{}, { authorization: 'Bearer engram_not-a-real-key' }] as Record<string, string>[]) {
      const response = await rpc('/mcp', headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const sse = await fetch(new URL('/sse', server.url));
    expect(sse.status).toBe(401);
    await expect(connect(server.url, 'mcp')).rejects.toThrow();
  });

  it("never shows or changes one user's memories with another user's key", async () => {
    for (const kind of ['mcp', 'sse'] as const) {
      const asAlice = await connect(server.url, kind, auth(alice));
      const asBob = await connect(server.url, kind, auth(bob));
      const secret = `Alice's locker code is 4512 (${kind}).`;
      const id = await store(asAlice, { content: secret, category: 'private', tags: ['locker'] });

      const retrieved = data<{ memories: StoredMemory[] }>(
        await call(asBob, 'retrieve_memory', { query: 'locker code' }),
      );
      expect(retrieved.memories.map((memory) => memory.id)).not.toContain(id);
      const recent = data<{ memories: StoredMemory[] }>(await call(asBob, 'retrieve_memory', {}));
      expect(recent.memories.map((memory) => memory.id)).not.toContain(id);
      const searched = data<{ results: { memory: StoredMemory }[] }>(
        await call(asBob, 'search_memory', { query: 'locker code 4512' }),
      );
      expect(searched.results.map((result) => result.memory.id)).not.toContain(id);
      const listed = data<{ items: StoredMemory[] }>(await call(asBob, 'list_memories', {}));
      expect(listed.items.map((memory) => memory.id)).not.toContain(id);
      const categories = data<{ categories: { name: string }[] }>(await call(asBob, 'list_categories'));
      expect(categories.categories.map((category) => category.name)).not.toContain('private');

      expectToolError(await call(asBob, 'update_memory', { id, content: 'Bob was here.' }), 'not_found');
      expectToolError(await call(asBob, 'delete_memory', { id }), 'not_found');
      expectToolError(await call(asBob, 'memory_history', { id }), 'not_found');

      const mine = data<{ memories: StoredMemory[] }>(await call(asAlice, 'retrieve_memory', { query: 'locker code' }));
      expect(mine.memories.find((memory) => memory.id === id)?.content).toBe(secret);
      const history = data<{ history: { event: string; actor: string }[] }>(
        await call(asAlice, 'memory_history', { id }),
      );
      expect(history.history.map((entry) => entry.event)).toEqual(['add']);
      expect(history.history[0]?.actor).toMatch(/^key:/);
    }
  });

  it("acts for the admin's X-User-ID, and a user key cannot pick another user", async () => {
    const asAdmin = await connect(server.url, 'mcp', auth(admin, { 'x-user-id': 'alice' }));
    const id = await store(asAdmin, { content: 'Stored for Alice by an administrator.' });
    const asAlice = await connect(server.url, 'mcp', auth(alice));
    const mine = data<{ memories: StoredMemory[] }>(await call(asAlice, 'retrieve_memory', {}));
    expect(mine.memories.map((memory) => memory.id)).toContain(id);

    const response = await rpc('/mcp', auth(bob, { 'x-user-id': 'alice' }), {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
    });
    expect(response.status).toBe(403);
  });

  it('refuses requests on a Streamable HTTP session made with another key', async () => {
    const asAlice = await connect(server.url, 'mcp', auth(alice));
    const sessionId = (asAlice.transport as StreamableHTTPClientTransport).sessionId as string;
    expect(sessionId).toBeTruthy();
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    const hijack = { jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'retrieve_memory', arguments: {} } };

    for (const headers of [auth(bob, session), auth(admin, { ...session, 'x-user-id': 'alice' })]) {
      const post = await rpc('/mcp', headers, hijack);
      expect(post.status).toBe(403);
      expect(await post.json()).toMatchObject({ error: { code: 'forbidden' } });
    }
    const noKey = await rpc('/mcp', session, hijack);
    expect(noKey.status).toBe(401);
    const get = await fetch(new URL('/mcp', server.url), {
      headers: { ...auth(bob, session), accept: 'text/event-stream' },
    });
    expect(get.status).toBe(403);
    const del = await fetch(new URL('/mcp', server.url), { method: 'DELETE', headers: auth(bob, session) });
    expect(del.status).toBe(403);

    // The refused attempts did not disturb the owner's session.
    expect(data<{ success: boolean }>(await call(asAlice, 'list_categories')).success).toBe(true);
  });

  it('refuses messages on a legacy SSE session made with another key', async () => {
    // The SDK keeps the message endpoint private: record it from the client's own requests.
    let endpoint: URL | undefined;
    const recordingFetch: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === '/messages') endpoint = url;
      return fetch(input, init);
    };
    const client = new Client({ name: 'engram-test', version: '0.0.0' });
    const transport = new SSEClientTransport(new URL('/sse', server.url), {
      requestInit: { headers: auth(alice) },
      fetch: recordingFetch,
    });
    await client.connect(transport);
    open.push(client);
    await call(client, 'list_categories');
    expect(endpoint?.searchParams.get('sessionId')).toBeTruthy();
    const hijack = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'retrieve_memory', arguments: {} } };
    const response = await rpc(`${endpoint?.pathname}${endpoint?.search}`, auth(bob), hijack);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect((await rpc(`${endpoint?.pathname}${endpoint?.search}`, {}, hijack)).status).toBe(401);
    expect(data<{ success: boolean }>(await call(client, 'list_categories')).success).toBe(true);
  });
});

/** The MCP routes alone on another listener, mounted as createApp mounts them, with other options. */
async function mountOn(
  deps: ServerDeps,
  options: McpHttpOptions,
): Promise<{ url: string; handle: McpHandle; stop(): Promise<void> }> {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(errorHandler(deps.logger));
  const handle = mountMcp(app, deps, options);
  const listener = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => listener.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  return {
    url,
    handle,
    async stop() {
      await handle.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

describe('MCP session lifecycle', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ embeddings: 'test' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('closes a Streamable HTTP session nobody has used for the idle time', async () => {
    const mounted = await mountOn(server.deps, { sessionIdleMs: 200 });
    try {
      const init = await fetch(new URL('/mcp', mounted.url), {
        method: 'POST',
        headers: mcpHeaders,
        body: JSON.stringify(initialize),
      });
      expect(init.status).toBe(200);
      await init.body?.cancel();
      const sessionId = init.headers.get('mcp-session-id') as string;
      expect(mounted.handle.sessionCount).toBe(1);
      // A connected client keeps its GET stream open, so its session is never idle.
      const client = await connect(mounted.url, 'mcp');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(mounted.handle.sessionCount).toBe(1);
      const stale = await fetch(new URL('/mcp', mounted.url), {
        method: 'POST',
        headers: { ...mcpHeaders, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      expect(stale.status).toBe(404);
      expect(data<{ success: boolean }>(await call(client, 'list_categories')).success).toBe(true);
    } finally {
      await mounted.stop();
    }
  });

  it('closes open sessions and streams on shutdown, so the HTTP server can stop', async () => {
    const mounted = await mountOn(server.deps, { sseKeepAliveMs: 100 });
    await connect(mounted.url, 'sse');
    await connect(mounted.url, 'mcp'); // holds a GET stream open
    expect(mounted.handle.sessionCount).toBe(2);

    // Idle legacy streams carry keep-alive comments.
    const raw = await fetch(new URL('/sse', mounted.url));
    const reader = (raw.body as ReadableStream<Uint8Array>).getReader();
    let received = '';
    while (!received.includes(': keep-alive')) received += new TextDecoder().decode((await reader.read()).value);
    expect(mounted.handle.sessionCount).toBe(3);

    const started = Date.now();
    await mounted.handle.close();
    expect(mounted.handle.sessionCount).toBe(0);
    expect((await reader.read()).done).toBe(true); // the server ended the stream
    const late = await fetch(new URL('/mcp', mounted.url), {
      method: 'POST',
      headers: mcpHeaders,
      body: JSON.stringify(initialize),
    });
    expect(late.status).toBe(503);
    await mounted.stop(); // would wait for open streams if any were left
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports unexpected failures without their text', async () => {
    const broken = Object.create(server.deps.service) as MemoryService;
    broken.categories = async () => {
      throw new Error('SQLITE_IOERR: disk I/O error in /srv/secret/engram.db');
    };
    const tools = createMcpServer(broken, {
      userId: 'default',
      principal: null,
      actor: { name: 'test', source: 'mcp' },
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await tools.connect(serverSide);
    const client = new Client({ name: 'engram-test', version: '0.0.0' });
    await client.connect(clientSide);
    open.push(client);
    const result = await call(client, 'list_categories');
    expectToolError(result, 'internal');
    expect(text(result)).not.toContain('secret');
  });
});

describe('MCP without sessions (ENGRAM_MCP_STATELESS)', () => {
  let server: TestServer;
  let url: string;

  beforeAll(async () => {
    // The real model: 'seat preference' finds 'Carol prefers window seats on flights.'
    server = await startTestServer({ auth: 'keys', config: { mcp: { stateless: true } } });
    url = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves every request with a fresh server and keeps the caller rules', async () => {
    const key = await server.createKey({ userId: 'carol' });
    const client = await connect(url, 'mcp', { authorization: `Bearer ${key}` });
    expect((client.transport as StreamableHTTPClientTransport).sessionId).toBeUndefined();
    const id = await store(client, { content: 'Carol prefers window seats on flights.' });
    const found = data<{ memories: StoredMemory[] }>(
      await call(client, 'retrieve_memory', { query: 'seat preference' }),
    );
    expect(found.memories[0]?.id).toBe(id);

    const other = await connect(url, 'mcp', { authorization: `Bearer ${await server.createKey({ userId: 'dave' })}` });
    const theirs = data<{ memories: StoredMemory[] }>(await call(other, 'retrieve_memory', {}));
    expect(theirs.memories).toEqual([]);

    const get = await fetch(new URL('/mcp', url), {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
    });
    expect(get.status).toBe(405);
  });
});
