import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGRAM_BIN, type ServerProcess, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `engram mcp-config <client>`: each printed snippet is launched exactly as it says, from another
 * working directory, with a short PATH (as Claude Desktop starts servers), by the MCP SDK's client.
 */
let root: string;
let dataDir: string;
let elsewhere: string;

beforeAll(async () => {
  root = await tempDir('engram-mcp-config-');
  dataDir = join(root, 'data');
  elsewhere = join(root, 'somewhere', 'else');
  await mkdir(elsewhere, { recursive: true });
});

/** Runs `engram mcp-config …` from `cwd` and returns what it printed. */
function mcpConfig(
  args: string[],
  cwd = elsewhere,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const options = { cwd, env: { ...process.env, ...env } };
    execFile(process.execPath, [ENGRAM_BIN, 'mcp-config', ...args], options, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

type StdioEntry = { type?: string; command: string; args: string[] };
type HttpEntry = { type?: string; url: string; headers?: Record<string, string> };

/** The server entry inside a client's file shape. */
function entryOf(client: string, printed: Record<string, unknown>): unknown {
  if (client === 'stdio' || client === 'http') return printed;
  const servers = (client === 'vscode' ? printed.servers : printed.mcpServers) as Record<string, unknown>;
  expect(Object.keys(servers)).toEqual(['engram']);
  return servers.engram;
}

async function connectStdio(entry: StdioEntry): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: entry.command,
    args: entry.args,
    cwd: elsewhere,
    // No PATH to find `node` or `engram` on, no inherited ENGRAM_* settings.
    env: { PATH: '/nonexistent', HOME: root, ENGRAM_LOG_LEVEL: 'warn' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'mcp-config-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

const text = (result: unknown) =>
  ((result as { content: { type: string; text: string }[] }).content[0] as { text: string }).text;

describe('engram mcp-config', () => {
  it('prints stdio setups that start Engram on one data directory from any working directory', async () => {
    const clients = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'stdio'];
    for (const [index, name] of clients.entries()) {
      const printed = await mcpConfig([name, '--data-dir', dataDir, '--user', 'alice']);
      expect(printed.code, printed.stderr).toBe(0);
      const entry = entryOf(name, JSON.parse(printed.stdout)) as StdioEntry;
      expect(entry.command).toBe(process.execPath);
      expect(entry.args).toContain(dataDir);
      if (name === 'vscode' || name === 'claude-code') expect(entry.type).toBe('stdio');
      const { client, stderr } = await connectStdio(entry);
      try {
        const stored = await client.callTool({
          name: 'store_memory',
          arguments: { content: `Setup number ${index} for ${name} keeps its notes in the blue folder.` },
        });
        expect(stored.isError, `${text(stored)}\n${stderr()}`).toBeFalsy();
      } finally {
        await client.close();
      }
    }
    // Every setup wrote to the same store, as the same user.
    const printed = await mcpConfig(['stdio', '--data-dir', dataDir, '--user', 'alice']);
    const { client } = await connectStdio(JSON.parse(printed.stdout) as StdioEntry);
    try {
      const listed = await client.callTool({ name: 'list_memories', arguments: { limit: 20 } });
      const contents = (listed.structuredContent as { items: { content: string }[] }).items.map((m) => m.content);
      for (const name of clients) expect(contents.some((content) => content.includes(`for ${name} `))).toBe(true);
    } finally {
      await client.close();
    }
  }, 600_000);

  it('tells Claude Code users the command that adds the same server', async () => {
    const printed = await mcpConfig(['claude-code', '--data-dir', dataDir]);
    expect(printed.stderr).toContain(`claude mcp add engram -- ${process.execPath} ${ENGRAM_BIN} mcp --data-dir`);
  });

  describe('over Streamable HTTP', () => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await spawnServer(['--data-dir', join(root, 'http-data')]);
    }, 120_000);
    afterAll(() => {
      server?.child.kill('SIGTERM');
    });

    it('prints setups whose URL reaches the running server, knowledge-base tools included', async () => {
      for (const name of ['cursor', 'vscode', 'claude-code', 'http']) {
        const printed = await mcpConfig([name, '--url', `${server.url}/mcp`, '--key', 'not-needed-on-loopback']);
        expect(printed.code, printed.stderr).toBe(0);
        const entry = entryOf(name, JSON.parse(printed.stdout)) as HttpEntry;
        if (name === 'vscode' || name === 'claude-code') expect(entry.type).toBe('http');
        expect(entry.headers).toEqual({ Authorization: 'Bearer not-needed-on-loopback' });
        const client = new Client({ name: 'mcp-config-http-test', version: '0.0.0' });
        // The key is unknown; a keyless loopback server ignores it — this checks the URL and shape.
        await client.connect(new StreamableHTTPClientTransport(new URL(entry.url)));
        try {
          const { tools } = await client.listTools();
          expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['store_memory', 'kb_add_note']));
        } finally {
          await client.close();
        }
      }
    }, 120_000);
  });

  it('prints the `http` entry for this configuration’s /mcp when no URL is given, and refuses a URL for `stdio`', async () => {
    const printed = await mcpConfig(['http'], elsewhere, { ENGRAM_PORT: '9911' });
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({ url: 'http://127.0.0.1:9911/mcp' });
    const refused = await mcpConfig(['stdio', '--url', 'http://127.0.0.1:9911/mcp']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('engram mcp-config http --url');
  });

  it('refuses an HTTP setup for Claude Desktop, saying what to do instead', async () => {
    const printed = await mcpConfig(['claude-desktop', '--url', 'http://127.0.0.1:8765/mcp']);
    expect(printed.code).toBe(1);
    expect(printed.stderr).toContain('Settings → Connectors');
  });

  it('merges into an existing config file with --write, keeping the other servers', async () => {
    const file = join(root, 'claude_desktop_config.json');
    await writeFile(
      file,
      JSON.stringify({ theme: 'dark', mcpServers: { other: { command: 'other-server' }, engram: { command: 'old' } } }),
    );
    const written = await mcpConfig(['claude-desktop', '--data-dir', dataDir, '--write', '--file', file]);
    expect(written.code, written.stderr).toBe(0);
    const config = JSON.parse(await readFile(file, 'utf8'));
    expect(config.theme).toBe('dark');
    expect(config.mcpServers.other).toEqual({ command: 'other-server' });
    expect(config.mcpServers.engram.command).toBe(process.execPath);

    const broken = join(root, 'broken.json');
    await writeFile(broken, '{ "mcpServers": ');
    const refused = await mcpConfig(['cursor', '--write', '--file', broken]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not valid JSON');
    expect(await readFile(broken, 'utf8')).toBe('{ "mcpServers": ');
  });
});
