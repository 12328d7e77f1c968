import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../src/server/mcp/tools.js';
import { call, data, expectToolError, type StoredMemory, store } from '../helpers/mcp-client.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `engram mcp` as an MCP client starts it: the built CLI over stdio, with the real embedding model
 * (nothing the model's runtime prints may reach stdout, which the protocol owns). In the full tier:
 * it spawns the built CLI, which loads the model.
 */
const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
});

describe('MCP over stdio (engram mcp)', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const cli = join(root, 'bin', 'engram.js');
  let dataDir: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
      throw new Error('the compiled CLI is missing: run `npm run build` before this test');
    }
    dataDir = await tempDir('engram-stdio-');
  });

  it('stores and retrieves a memory through a spawned `engram mcp`', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [cli, 'mcp', '--data-dir', dataDir, '--user', 'stdio-user'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ENGRAM_LOG_LEVEL: 'warn' },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'engram-test', version: '0.0.0' });
    let stdoutNoise: unknown;
    client.onerror = (error) => {
      stdoutNoise = error; // anything on stdout that is not a protocol message
    };
    try {
      await client.connect(transport);
      open.push(client);
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOL_NAMES].sort());
      const id = await store(client, { content: 'The stdio user keeps their bike in the basement.', tags: ['bike'] });
      const found = data<{ memories: (StoredMemory & { userId: string })[] }>(
        await call(client, 'retrieve_memory', { query: 'where is the bike?' }),
      );
      expect(found.memories[0]).toMatchObject({ id, userId: 'stdio-user' });
      expectToolError(await call(client, 'delete_memory', { id: 'missing' }), 'not_found');
      expect(stdoutNoise).toBeUndefined();
    } catch (error) {
      throw new Error(`${String(error)}\n--- engram mcp stderr ---\n${stderr}`);
    }
  });
});
