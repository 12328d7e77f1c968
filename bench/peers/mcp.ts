/**
 * The two systems reached as MCP servers over stdio with the MCP SDK's client, one user each
 * (that is how local clients start them): `engram mcp` and the reference memory server
 * (@modelcontextprotocol/server-memory). Engram's embeddings come from the workload's vectors
 * over the OpenAI embeddings wire format (`ENGRAM_EMBEDDER=openai` pointed at a local lookup);
 * the reference server keeps text only and matches substrings.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Scratch } from './install.js';
import type { PeerSystem } from './system.js';
import { keywordOf, PEER_DIM, type VectorLookup } from './workload.js';

const ENGRAM_BIN = fileURLToPath(new URL('../../../bin/engram.js', import.meta.url));

/** `POST /v1/embeddings` answering from the workload's vectors (the OpenAI request and response shapes). */
async function lookupEmbeddings(lookup: VectorLookup): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { input, model } = JSON.parse(Buffer.concat(chunks).toString()) as {
        input: string | string[];
        model: string;
      };
      const texts = typeof input === 'string' ? [input] : input;
      const data = texts.map((text, index) => ({ object: 'embedding', index, embedding: lookup.vectorOf(text) }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 0, total_tokens: 0 } }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function connect(command: string, args: string[], env: Record<string, string>): Promise<Client> {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'engram-bench-peers', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content).slice(0, 300)}`);
  return (result.structuredContent ?? {}) as Record<string, unknown>;
}

export async function engramMcp(dataDir: string, lookup: VectorLookup, version: string): Promise<PeerSystem> {
  const embeddings = await lookupEmbeddings(lookup);
  const client = await connect(process.execPath, [ENGRAM_BIN, 'mcp', '--user', 'bench', '--data-dir', dataDir], {
    ENGRAM_EMBEDDER: 'openai',
    ENGRAM_OPENAI_BASE_URL: embeddings.baseUrl,
    ENGRAM_OPENAI_DIMENSION: String(PEER_DIM),
    ENGRAM_LOG_LEVEL: 'warn',
  });
  return {
    name: `Engram ${version} (MCP stdio)`,
    how: '`engram mcp` (SQLite, embeddings over the OpenAI wire format from the workload); store_memory, retrieve_memory with the question, limit 10',
    users: 1,
    via: 'mcp',
    baseline: true,
    dataDir,
    add: async (_user, content) => {
      await call(client, 'store_memory', { content });
    },
    search: async (_user, query) => Number((await call(client, 'retrieve_memory', { query, limit: 10 })).count ?? 0),
    close: async () => {
      await client.close();
      await embeddings.close();
    },
  };
}

export async function referenceMcp(scratch: Scratch, dataDir: string): Promise<PeerSystem> {
  const entry = scratch.file('@modelcontextprotocol/server-memory', 'dist/index.js');
  const client = await connect(process.execPath, [entry], { MEMORY_FILE_PATH: join(dataDir, 'memory.jsonl') });
  return {
    name: `server-memory ${await scratch.version('@modelcontextprotocol/server-memory')} (MCP stdio)`,
    how: 'the reference MCP memory server (a JSONL file); create_entities of one entity per memory, search_nodes with the question’s longest word (it matches one substring)',
    users: 1,
    via: 'mcp',
    baseline: false,
    dataDir,
    add: async (_user, text, index) => {
      await call(client, 'create_entities', {
        entities: [{ name: `memory-${index}`, entityType: 'memory', observations: [text] }],
      });
    },
    search: async (_user, question) => {
      const found = await call(client, 'search_nodes', { query: keywordOf(question) });
      return Array.isArray(found.entities) ? found.entities.length : 0;
    },
    close: () => client.close(),
  };
}
