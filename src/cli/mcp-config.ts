/**
 * `engram mcp-config <client>`: the snippet that connects an MCP client to Engram, with absolute
 * paths (the Node.js binary, this package's `bin/engram.js`, the data directory), so it works
 * whatever working directory and PATH the client starts it with — Claude Desktop, for one, has no
 * `cwd` setting and a short PATH. Prints it, or merges it into the client's config file (`--write`).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Argument, type Command } from 'commander';
import { type Config, ConfigError } from '../config.js';
import { packageRoot } from '../util/paths.js';

export const MCP_CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'stdio', 'http'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

/** How a client starts Engram over stdio, or where it reaches it over HTTP. */
export type McpServerEntry =
  | { transport: 'stdio'; command: string; args: string[] }
  | { transport: 'http'; url: string; headers: Record<string, string> };

export interface McpConfigOptions {
  user?: string;
  /** Streamable HTTP instead of stdio: the server's `/mcp` URL. */
  url?: string;
  key?: string;
  name: string;
}

/** The server entry: `node <abs>/bin/engram.js mcp --data-dir <abs> [--user u]`, or the URL with its key. */
export function serverEntry(config: Config, options: McpConfigOptions): McpServerEntry {
  if (options.url !== undefined) {
    return {
      transport: 'http',
      url: options.url,
      headers: options.key ? { Authorization: `Bearer ${options.key}` } : {},
    };
  }
  const args = [join(packageRoot(), 'bin', 'engram.js'), 'mcp', '--data-dir', config.dataDir];
  if (config.store !== 'sqlite') args.push('--store', config.store);
  if (options.user) args.push('--user', options.user);
  return { transport: 'stdio', command: process.execPath, args };
}

/** The client's own JSON shape for one server. */
function clientEntry(client: McpClient, entry: McpServerEntry): Record<string, unknown> {
  if (entry.transport === 'stdio') {
    const base = { command: entry.command, args: entry.args };
    return client === 'vscode' || client === 'claude-code' ? { type: 'stdio', ...base } : base;
  }
  const headers = Object.keys(entry.headers).length > 0 ? { headers: entry.headers } : {};
  return client === 'cursor' || client === 'http'
    ? { url: entry.url, ...headers }
    : { type: 'http', url: entry.url, ...headers };
}

/** The whole file a client reads (`mcpServers`, or `servers` for VS Code), or the bare entry for `stdio`/`http`. */
export function clientConfig(client: McpClient, entry: McpServerEntry, name: string): Record<string, unknown> {
  if (client === 'claude-desktop' && entry.transport === 'http') {
    throw new ConfigError(
      "Claude Desktop's config file starts local (stdio) servers only: leave out --url, or add the URL in Claude Desktop under Settings → Connectors",
    );
  }
  const server = clientEntry(client, entry);
  if (client === 'stdio' || client === 'http') return server;
  return { [client === 'vscode' ? 'servers' : 'mcpServers']: { [name]: server } };
}

/** Where each client reads its configuration (the user-wide file, or the project's for Claude Code and VS Code). */
export function clientConfigFile(client: McpClient): string | null {
  const home = homedir();
  switch (client) {
    case 'claude-desktop':
      if (process.platform === 'darwin')
        return join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
      if (process.platform === 'win32')
        return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Claude', 'claude_desktop_config.json');
      return join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Claude', 'claude_desktop_config.json');
    case 'cursor':
      return join(home, '.cursor', 'mcp.json');
    case 'claude-code':
      return join(process.cwd(), '.mcp.json');
    case 'vscode':
      return join(process.cwd(), '.vscode', 'mcp.json');
    default:
      return null;
  }
}

/**
 * Merges the server into the client's file: other servers and settings stay as they were, an
 * entry of the same name is replaced, and the file is replaced atomically (a half-written config
 * would stop the client from starting).
 */
export function writeClientConfig(file: string, snippet: Record<string, unknown>): void {
  let current: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(
        `${file} is not valid JSON (${(error as Error).message}); fix it or print the snippet instead`,
      );
    }
    if (typeof current !== 'object' || current === null || Array.isArray(current)) {
      throw new ConfigError(`${file} does not hold a JSON object`);
    }
  }
  for (const [key, servers] of Object.entries(snippet)) {
    const existing = current[key];
    current[key] = {
      ...(typeof existing === 'object' && existing !== null ? existing : {}),
      ...(servers as Record<string, unknown>),
    };
  }
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.engram-${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/** `claude mcp add …`: Claude Code's own command for the same entry. */
function claudeCodeCommand(entry: McpServerEntry, name: string): string {
  const quote = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  if (entry.transport === 'http') {
    const headers = Object.entries(entry.headers).map(([key, value]) => `--header ${quote(`${key}: ${value}`)}`);
    return ['claude mcp add --transport http', quote(name), quote(entry.url), ...headers].join(' ');
  }
  return ['claude mcp add', quote(name), '--', quote(entry.command), ...entry.args.map(quote)].join(' ');
}

export function registerMcpConfigCommand(
  program: Command,
  configOf: (command: Command) => Config,
  print: (line: string) => void,
): void {
  program
    .command('mcp-config')
    .description('print (or --write) the setup that connects an MCP client to Engram, with absolute paths')
    .addArgument(new Argument('<client>', 'the client').choices(MCP_CLIENTS))
    .option('-u, --user <id>', 'the user the client acts for over stdio (default: the default user)')
    .option(
      '--url [url]',
      "connect over Streamable HTTP to a running server's /mcp instead of starting Engram (default: this config's host and port)",
    )
    .option('--key <key>', 'the API key to send over HTTP (Authorization: Bearer)')
    .option('--name <name>', 'the server name in the client', 'engram')
    .option('--write', "merge the entry into the client's config file (other servers are kept)")
    .option('--file <path>', 'the config file to write instead of the client’s usual one')
    .action(
      (
        client: McpClient,
        options: { user?: string; url?: string | true; key?: string; name: string; write?: boolean; file?: string },
        command: Command,
      ) => {
        const config = configOf(command);
        // `http` is the Streamable-HTTP entry: this config's /mcp unless --url names another.
        const url =
          options.url === true || (options.url === undefined && client === 'http')
            ? `http://${config.host}:${config.port}/mcp`
            : options.url;
        if (client === 'stdio' && url !== undefined) {
          throw new ConfigError(
            '`stdio` prints how a client starts Engram itself: leave out --url, or use `engram mcp-config http --url <url>`',
          );
        }
        const entry = serverEntry(config, { ...options, url });
        const snippet = clientConfig(client, entry, options.name);
        if (!options.write) {
          print(JSON.stringify(snippet, null, 2));
          if (client === 'claude-code') {
            process.stderr.write(`or let Claude Code add it: ${claudeCodeCommand(entry, options.name)}\n`);
          }
          return;
        }
        const file = options.file ?? clientConfigFile(client);
        if (!file) throw new ConfigError(`--write needs --file for ${client}: it has no config file of its own`);
        writeClientConfig(file, snippet);
        process.stderr.write(`wrote the ${options.name} server into ${file}; restart the client to load it\n`);
      },
    );
}
