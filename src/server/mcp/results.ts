import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { EngramError, isPrivateError, publicError } from '../../core/errors.js';
import type { Logger } from '../../logger.js';

export type Structured = Record<string, unknown>;

export const ok = (text: string, structuredContent: Structured): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent,
});

/** The one place where failures become tool results. Unknown errors never leak their text. */
export function toolError(error: unknown, logger?: Logger): CallToolResult {
  if (isPrivateError(error)) logger?.error({ err: error }, 'MCP tool failed');
  const visible = publicError(error instanceof EngramError ? error : new EngramError('internal', 'unexpected error'));
  return { content: [{ type: 'text', text: `Error (${visible.code}): ${visible.message}` }], isError: true };
}

/** Runs a tool's work; any failure becomes an error result (`toolError`). */
export type RunTool = (work: () => Promise<CallToolResult>) => Promise<CallToolResult>;

/** Hints of a tool that only reads (none reaches outside Engram). */
export const READ_ONLY = { readOnlyHint: true, openWorldHint: false } as const;

/** Hints of a tool that changes memories (none reaches outside Engram). */
export const writes = (title: string, hints: { destructive: boolean; idempotent: boolean }) => ({
  title,
  readOnlyHint: false,
  destructiveHint: hints.destructive,
  idempotentHint: hints.idempotent,
  openWorldHint: false,
});
