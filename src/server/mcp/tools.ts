import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { MemoryService } from '../../core/memory-service.js';
import type { EngramJobs } from '../../jobs/index.js';
import type { KnowledgeBase } from '../../kb/index.js';
import type { Logger } from '../../logger.js';
import { packageVersion } from '../../util/paths.js';
import type { Caller } from '../request-context.js';
import { ERASE_TOOL_NAMES, registerEraseTools } from './erase-tools.js';
import { registerExtractTool } from './extract-tool.js';
import { registerKbTools } from './kb-tools.js';
import { MEMORY_TOOL_NAMES, registerMemoryTools } from './memory-tools.js';
import { toolError } from './results.js';
import { memoryOutput } from './tool-schemas.js';

/**
 * The MCP server: thin adapters over MemoryService. Each tool parses its arguments, calls the
 * service for `caller.userId` (never a user id from the arguments), and returns text written for a
 * model to read (format.ts) plus `structuredContent` matching the tool's output schema
 * (tool-schemas.ts). Domain failures become tool results with `isError: true` in one place
 * (`run` → `toolError`), never protocol errors or stack traces.
 */

export const SERVER_INFO = { name: 'engram', version: packageVersion() } as const;

/** The tools every server has (`get_job` only with background jobs; kb_* and extract_memories when configured). */
export const TOOL_NAMES = [...MEMORY_TOOL_NAMES, ...ERASE_TOOL_NAMES] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const INSTRUCTIONS = `Engram is this user's long-term memory. Store durable facts, preferences, decisions and notes with \
store_memory (one self-contained fact per memory; add a category and tags). Before answering questions that may depend \
on earlier conversations, look things up with retrieve_memory or search_memory. Correct outdated memories with \
update_memory rather than storing contradictions; delete_memory removes one and restore_memory undoes that (list_deleted_memories finds its id). When the \
user asks you to forget something, forget_memory erases it and its history for good. Memory ids come from these tools' \
results.`;

export interface McpToolOptions {
  /** Where unexpected (non-domain) failures are logged; the client only sees "internal error". */
  logger?: Logger;
  /** The knowledge base, when the server has one: adds the kb_* tools. */
  kb?: KnowledgeBase | null;
  /** Background jobs: `store_memory` with `async: true` and the `get_job` tool. Without them, `async` is refused. */
  jobs?: EngramJobs | null;
}

/** A new MCP server whose tools act for `caller` (one per session or per stdio connection). */
export function createMcpServer(service: MemoryService, caller: Caller, options: McpToolOptions = {}): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  const run = async (work: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      return await work();
    } catch (error) {
      return toolError(error, options.logger);
    }
  };
  registerMemoryTools(server, service, caller, options.jobs, run);
  registerEraseTools(server, service, caller, run);
  if (service.inferrer) registerExtractTool(server, service, caller, options.jobs, memoryOutput, run);
  if (options.kb) registerKbTools(server, options.kb, caller, run);
  return server;
}
