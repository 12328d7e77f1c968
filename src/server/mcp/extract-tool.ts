import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import type { Decision, MemoryService } from '../../core/memory-service.js';
import { type ExtractInput, LIMITS } from '../../core/schemas.js';
import { type EngramJobs, jobViewSchema } from '../../jobs/index.js';
import type { Caller } from '../request-context.js';
import { ok, type RunTool } from './results.js';

/** Registered when the server has an LLM (ENGRAM_LLM_PROVIDER). */
export const EXTRACT_TOOL_NAMES = ['extract_memories'] as const;

function describeDecision(decision: Decision, index: number): string {
  const why = decision.reason ? ` (${decision.reason})` : '';
  const fact = `"${decision.fact}"`;
  switch (decision.action) {
    case 'add':
      return `${index + 1}. added ${fact} as memory ${decision.memory.id}${why}`;
    case 'update':
      return `${index + 1}. ${fact} replaced memory ${decision.superseded?.id} ("${decision.superseded?.content}"), now memory ${decision.memory.id}${why}`;
    case 'noop':
      return `${index + 1}. ${fact} was already known as memory ${decision.memory.id}${why}`;
  }
}

export function registerExtractTool(
  server: McpServer,
  service: MemoryService,
  caller: Caller,
  jobs: EngramJobs | null | undefined,
  memoryOutput: z.ZodType,
  run: RunTool,
): void {
  const { userId, actor } = caller;
  const decisionOutput = z.looseObject({
    action: z.enum(['add', 'update', 'noop']),
    fact: z.string(),
    memory: memoryOutput,
    superseded: memoryOutput.nullable(),
    reason: z.string().nullable(),
    by: z.string(),
  });
  server.registerTool(
    'extract_memories',
    {
      title: 'Extract memories from a conversation',
      description:
        'Give the conversation (or part of it); Engram extracts the facts worth remembering about the user and ' +
        'reconciles them with what it already knows: new facts are added, facts that replace an outdated memory ' +
        'supersede it (the old one stays in history), facts already known are skipped. Returns what happened to each.',
      inputSchema: {
        messages: z
          .array(
            z.object({
              role: z.enum(['user', 'assistant', 'system']).optional().describe('Who said it (default user).'),
              content: z.string().min(1).max(LIMITS.contentChars).describe('What was said.'),
              at: z.string().max(64).optional().describe('When it was said, ISO-8601 (resolves "yesterday").'),
            }),
          )
          .min(1)
          .max(LIMITS.extractMessages)
          .describe('The messages, oldest first.'),
        category: z.string().min(1).max(64).optional().describe('Store every fact in this category.'),
        tags: z
          .array(z.string().min(1).max(LIMITS.tagChars))
          .max(LIMITS.tags)
          .optional()
          .describe('Tags for every fact.'),
        sessionId: z.string().min(1).max(128).optional().describe('The conversation these messages come from.'),
        async: z.boolean().optional().describe('true: return at once with a job id; check the outcome with get_job.'),
      },
      outputSchema: {
        decisions: z.array(decisionOutput).optional(),
        problem: z.looseObject({ kind: z.string(), message: z.string() }).nullable().optional(),
        job: jobViewSchema.loose().optional(),
      },
      annotations: {
        title: 'Extract memories',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    ({ async: background, messages, category, tags, sessionId }) =>
      run(async () => {
        // The service validates the whole request (categories, tags, dates) with the REST rules.
        const request: ExtractInput = {
          messages: messages.map(({ role, content, at }) => ({ content, ...(role && { role }), ...(at && { at }) })),
          ...(category !== undefined && { category }),
          ...(tags !== undefined && { tags }),
          ...(sessionId !== undefined && { sessionId }),
        };
        if (background) {
          if (!jobs) throw new EngramError('invalid_request', 'this server does not run background jobs');
          const job = await jobs.enqueue('extract', userId, request, actor);
          return ok(`Accepted as job ${job.id}; call get_job with this id to see the outcome.`, { job });
        }
        const result = await service.extract(userId, request, actor);
        const text =
          result.decisions.length === 0
            ? 'Nothing in these messages was worth remembering; nothing was stored.'
            : `Extracted ${result.decisions.length} fact(s):\n${result.decisions.map(describeDecision).join('\n')}`;
        return ok(text, { ...result });
      }),
  );
}
