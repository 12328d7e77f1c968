import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { EngramError } from '../../core/errors.js';
import type { MemoryService } from '../../core/memory-service.js';
import { userIdSchema } from '../../core/schemas.js';
import type { EngramJobs } from '../../jobs/index.js';
import type { Logger } from '../../logger.js';
import type { Caller } from '../request-context.js';
import { createMcpServer } from './tools.js';

export interface StdioOptions {
  logger?: Logger;
  /** Defaults to the process's stdin/stdout. */
  stdin?: Readable;
  stdout?: Writable;
  /** Background jobs (the caller runs their runner): `store_memory` async and `get_job`. */
  jobs?: EngramJobs;
}

/**
 * Serves MCP over stdin/stdout for one user (local clients such as Claude Desktop and IDEs
 * start `engram mcp` as a child process). Resolves when the client goes away (stdin ends) or on
 * SIGINT/SIGTERM; the caller then closes the service. Stdout belongs to the protocol: nothing
 * else may write to it, so stray console output is sent to stderr while this runs.
 */
export async function runStdio(service: MemoryService, userId: string, options: StdioOptions = {}): Promise<void> {
  if (!userIdSchema.safeParse(userId).success) {
    throw new EngramError('invalid_request', `user id ${JSON.stringify(userId)} is not valid`);
  }
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const restoreConsole = stdout === process.stdout ? consoleToStderr() : () => undefined;

  const caller: Caller = { userId, principal: null, actor: { name: 'stdio', source: 'mcp' } };
  const server = createMcpServer(service, caller, {
    ...(options.logger && { logger: options.logger }),
    ...(options.jobs && { jobs: options.jobs }),
  });
  const transport = new StdioServerTransport(stdin, stdout);

  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  const stop = () => void server.close().catch(() => undefined);
  const signals = ['SIGINT', 'SIGTERM'] as const;
  for (const signal of signals) process.once(signal, stop);
  stdin.once('end', stop);
  stdin.once('close', stop);
  transport.onerror = (error) => options.logger?.warn({ err: error }, 'MCP stdio transport error');

  try {
    await server.connect(transport);
    options.logger?.info({ userId }, 'MCP over stdio ready');
    await closed;
  } finally {
    for (const signal of signals) process.off(signal, stop);
    stdin.off('end', stop);
    stdin.off('close', stop);
    restoreConsole();
  }
}

/** Routes console.log/info/debug to stderr so a dependency's chatter cannot corrupt the protocol stream. */
function consoleToStderr(): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  return () => Object.assign(console, saved);
}
