import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';

/** Calls one MCP tool through the official client. */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The text parts of a tool result, joined. */
export function text(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

/** Structured content of a successful call (fails the test on a tool error). */
export function data<T>(result: CallToolResult): T {
  expect(result.isError, text(result)).toBeFalsy();
  return result.structuredContent as T;
}

/** A memory as the MCP tools return it. */
export interface StoredMemory {
  id: string;
  content: string;
  category: string;
  tags: string[];
}

/** Stores a memory with `store_memory`; its id. */
export async function store(client: Client, args: Record<string, unknown>): Promise<string> {
  return data<{ memory_id: string }>(await call(client, 'store_memory', args)).memory_id;
}

/** Asserts a tool-level failure: an isError result with a readable message, no stack trace. */
export function expectToolError(result: CallToolResult, code: string): void {
  expect(result.isError).toBe(true);
  expect(text(result)).toContain(`(${code})`);
  expect(text(result)).not.toMatch(/\n\s+at /);
  expect(result.structuredContent).toBeUndefined();
}
