import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { EngramError, isPrivateError, publicError } from '../../core/errors.js';
import type { MemoryService } from '../../core/memory-service.js';
import { type FilterInput, historyEntrySchema, LIMITS, memorySchema } from '../../core/schemas.js';
import type { HistoryEntry, Memory, Metadata, SearchExplanation, SearchResult } from '../../core/types.js';
import { type EngramJobs, type JobView, jobViewSchema } from '../../jobs/index.js';
import type { KnowledgeBase } from '../../kb/index.js';
import type { Logger } from '../../logger.js';
import type { Caller } from '../context.js';
import { registerExtractTool } from './extract-tool.js';
import { registerKbTools } from './kb-tools.js';

/**
 * The MCP tools: thin adapters over MemoryService. Each parses its arguments, calls the service
 * for `caller.userId` (never a user id from the arguments), and returns text written for a model
 * to read plus `structuredContent` matching the tool's output schema. Domain failures become tool
 * results with `isError: true` in one place (`run`), never protocol errors or stack traces.
 */

export const SERVER_INFO = { name: 'engram', version: '0.1.0' } as const;

export const TOOL_NAMES = [
  'store_memory',
  'retrieve_memory',
  'list_categories',
  'search_memory',
  'update_memory',
  'delete_memory',
  'list_memories',
  'memory_history',
  'get_job',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const INSTRUCTIONS = `Engram is this user's long-term memory. Store durable facts, preferences, decisions and notes with \
store_memory (one self-contained fact per memory; add a category and tags). Before answering questions that may depend \
on earlier conversations, look things up with retrieve_memory or search_memory. Correct outdated memories with \
update_memory rather than storing contradictions; delete_memory removes one. Memory ids come from these tools' results.`;

export interface McpToolOptions {
  /** Where unexpected (non-domain) failures are logged; the client only sees "internal error". */
  logger?: Logger;
  /** The knowledge base, when the server has one: adds the kb_* tools. */
  kb?: KnowledgeBase | null;
  /** Background jobs: `store_memory` with `async: true` and the `get_job` tool. Without them, `async` is refused. */
  jobs?: EngramJobs | null;
}

// ---------------------------------------------------------------- argument schemas

const idArg = z.string().min(1).max(128).describe('The memory id, exactly as a previous tool result showed it.');
const categoryArg = z
  .string()
  .min(1)
  .max(64)
  .describe('A category such as "general", "work", "health" or "projects/alpha" (letters, digits, spaces, _ . - /).');
const tagsArg = z.array(z.string().min(1).max(LIMITS.tagChars)).max(LIMITS.tags);
/** A plain JSON object for the model (no recursive schema); the service validates it as metadata. */
const metadataArg = z
  .record(z.string(), z.unknown())
  .describe('Extra JSON fields to keep with the memory (a JSON object).');
const asMetadata = (value: Record<string, unknown> | undefined) => value as Metadata | undefined;
const isoDateArg = z.string().max(64).describe('An ISO-8601 date-time with a time zone, e.g. 2026-05-01T09:30:00Z.');
const limitArg = (fallback: number, max: number) =>
  z.number().int().min(1).max(max).default(fallback).describe(`How many to return (1-${max}, default ${fallback}).`);

const filterArgs = {
  category: categoryArg.optional().describe('Only memories in this category.'),
  tags: tagsArg.optional().describe('Only memories carrying at least one of these tags.'),
};

const searchFilterArgs = {
  ...filterArgs,
  tagsAll: tagsArg.optional().describe('Only memories carrying every one of these tags.'),
  createdAfter: isoDateArg.optional().describe('Only memories stored at or after this instant (ISO-8601).'),
  createdBefore: isoDateArg.optional().describe('Only memories stored before this instant (ISO-8601).'),
  eventAfter: isoDateArg.optional().describe('Only memories about things that happened at or after this instant.'),
  eventBefore: isoDateArg.optional().describe('Only memories about things that happened before this instant.'),
  metadata: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .optional()
    .describe('Only memories whose metadata has these top-level key/value pairs, e.g. {"project": "alpha"}.'),
  includeExpired: z.boolean().optional().describe('Also return memories whose expiry time has passed.'),
  includeSuperseded: z.boolean().optional().describe('Also return memories that were superseded by newer ones.'),
};

type SearchFilterArgs = { [K in keyof typeof searchFilterArgs]?: z.output<(typeof searchFilterArgs)[K]> };

/** The object without its undefined fields (an omitted argument must not count as "given"). */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

/** Tool filter arguments → the service's filter (tags means "any of"). */
function toFilter({ tags, ...rest }: SearchFilterArgs): FilterInput | undefined {
  const filter: FilterInput = defined({ ...rest, tagsAny: tags });
  return Object.keys(filter).length > 0 ? filter : undefined;
}

// ---------------------------------------------------------------- output schemas

/**
 * Loose, so a field added to memories later does not break clients that validate results; metadata
 * as a plain JSON object, so the schema stays representable as JSON Schema whatever core does there.
 */
const memoryOutput = memorySchema.extend({ metadata: z.record(z.string(), z.unknown()) }).loose();

const explanationOutput = z.looseObject({
  mode: z.enum(['hybrid', 'vector', 'keyword']),
  keyword: z.looseObject({ rank: z.number(), score: z.number() }).nullable(),
  vector: z.looseObject({ rank: z.number(), similarity: z.number() }).nullable(),
  fusion: z
    .looseObject({ method: z.string(), k: z.number(), keywordWeight: z.number(), vectorWeight: z.number() })
    .nullable(),
  context: z
    .looseObject({ boost: z.number(), from: z.array(z.looseObject({ id: z.string(), offset: z.number() })) })
    .nullable()
    .optional(),
  recency: z.looseObject({ factor: z.number(), ageDays: z.number() }).optional(),
});
const historyEntryOutput = historyEntrySchema
  .extend({ before: memoryOutput.nullable(), after: memoryOutput.nullable() })
  .loose();

const outputs = {
  store: {
    success: z.literal(true),
    /** Kept from the gateway this tool replaces. Absent for an `async` store, which returns `job` instead. */
    memory_id: z.string().optional(),
    duplicate: z.boolean().optional(),
    message: z.string(),
    memory: memoryOutput.optional(),
    job: jobViewSchema.loose().optional(),
  },
  job: { job: jobViewSchema.loose() },
  retrieve: {
    success: z.literal(true),
    count: z.number(),
    mode: z.enum(['search', 'recent']),
    memories: z.array(memoryOutput.extend({ score: z.number().optional() })),
  },
  categories: {
    success: z.literal(true),
    categories: z.array(z.object({ name: z.string(), count: z.number() })),
    total: z.number(),
  },
  search: {
    count: z.number(),
    results: z.array(z.object({ memory: memoryOutput, score: z.number(), explanation: explanationOutput })),
  },
  update: { memory: memoryOutput, changed: z.array(z.string()) },
  delete: { deleted: memoryOutput },
  list: { count: z.number(), items: z.array(memoryOutput), nextCursor: z.string().nullable() },
  history: { memoryId: z.string(), history: z.array(historyEntryOutput) },
};

// ---------------------------------------------------------------- formatting for a model to read

const PREVIEW_CHARS = 160;

function preview(content: string, max = PREVIEW_CHARS): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function describeMemory(memory: Memory): string {
  const parts = [`id ${memory.id}`, `category ${memory.category}`];
  if (memory.tags.length > 0) parts.push(`tags ${memory.tags.join(', ')}`);
  parts.push(`stored ${memory.createdAt}`);
  if (memory.updatedAt !== memory.createdAt) parts.push(`updated ${memory.updatedAt}`);
  if (memory.eventAt) parts.push(`happened ${memory.eventAt}`);
  if (memory.expiresAt) parts.push(`expires ${memory.expiresAt}`);
  if (memory.pinned) parts.push('pinned');
  if (Object.keys(memory.metadata).length > 0) parts.push(`metadata ${JSON.stringify(memory.metadata)}`);
  return parts.join(' · ');
}

function formatMemory(memory: Memory, index: number, extra?: string): string {
  const content = memory.content.trim().replace(/\n/g, '\n   ');
  return `${index + 1}. ${content}\n   (${describeMemory(memory)})${extra ? `\n   ${extra}` : ''}`;
}

/** Three significant digits, readable for tiny and large values alike. */
const num = (value: number): string => String(Number(value.toPrecision(3)));

export function explain(explanation: SearchExplanation): string {
  const why: string[] = [];
  if (explanation.keyword)
    why.push(`keyword rank ${explanation.keyword.rank} (score ${num(explanation.keyword.score)})`);
  if (explanation.vector)
    why.push(`vector rank ${explanation.vector.rank} (similarity ${num(explanation.vector.similarity)})`);
  if (explanation.context) why.push(contextReason(explanation.context));
  if (explanation.recency)
    why.push(`recency ×${num(explanation.recency.factor)} (${explanation.recency.ageDays.toFixed(0)} days old)`);
  if (why.length === 0) return `${explanation.mode} match`;
  const fused = explanation.fusion ? `, fused by RRF k=${explanation.fusion.k}` : '';
  return `${why.join(' + ')}${fused}`;
}

/** "context +0.021 from the turns 1 before and 2 after" */
export function contextReason(context: NonNullable<SearchExplanation['context']>): string {
  const where = context.from.map(({ offset }) => (offset < 0 ? `${-offset} before` : `${offset} after`));
  return `conversation context +${num(context.boost)} from the memories ${where.join(', ')}`;
}

function formatResult(result: SearchResult, index: number): string {
  return formatMemory(result.memory, index, `score ${num(result.score)}: ${explain(result.explanation)}`);
}

const plural = (count: number, word: string, words = `${word}s`) => `${count} ${count === 1 ? word : words}`;
const memories = (count: number) => plural(count, 'memory', 'memories');

const CHANGE_FIELDS = ['content', 'category', 'tags', 'metadata', 'eventAt', 'expiresAt', 'pinned'] as const;
type ChangeField = (typeof CHANGE_FIELDS)[number];

function changedFields(before: Memory | null, after: Memory | null): ChangeField[] {
  if (!before || !after) return [];
  return CHANGE_FIELDS.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

function formatHistoryEntry(entry: HistoryEntry, index: number): string {
  const head = `${index + 1}. ${entry.at} ${entry.event} by ${entry.actor}`;
  if (entry.event === 'add' && entry.after) return `${head}: "${preview(entry.after.content)}"`;
  if (entry.event === 'delete' && entry.before) return `${head}: "${preview(entry.before.content)}"`;
  const changes = changedFields(entry.before, entry.after).map((field) => {
    if (field === 'content')
      return `content "${preview(entry.before?.content ?? '', 80)}" → "${preview(entry.after?.content ?? '', 80)}"`;
    return `${field} ${JSON.stringify(entry.before?.[field] ?? null)} → ${JSON.stringify(entry.after?.[field] ?? null)}`;
  });
  const reason = entry.reason ? ` (${entry.reason})` : '';
  return `${head}${reason}: ${changes.length > 0 ? changes.join('; ') : 'no visible change'}`;
}

function describeJob(job: JobView): string {
  const head = `Job ${job.id} (${job.kind}) is ${job.status} after ${plural(job.attempts, 'attempt')}`;
  if (job.status === 'succeeded') return `${head}. Result: ${JSON.stringify(job.result)}`;
  if (job.error) {
    const last = `${job.error.message} (${job.error.code})`;
    return job.status === 'failed'
      ? `${head}: ${last}`
      : `${head}; the last attempt failed: ${last}. It will be retried.`;
  }
  return `${head}.`;
}

// ---------------------------------------------------------------- results and errors

type Structured = Record<string, unknown>;

const ok = (text: string, structuredContent: Structured): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent,
});

/** The one place where failures become tool results. Unknown errors never leak their text. */
export function toolError(error: unknown, logger?: Logger): CallToolResult {
  if (isPrivateError(error)) logger?.error({ err: error }, 'MCP tool failed');
  const visible = publicError(error instanceof EngramError ? error : new EngramError('internal', 'unexpected error'));
  return { content: [{ type: 'text', text: `Error (${visible.code}): ${visible.message}` }], isError: true };
}

// ---------------------------------------------------------------- the server

/** A new MCP server whose tools act for `caller` (one per session or per stdio connection). */
export function createMcpServer(service: MemoryService, caller: Caller, options: McpToolOptions = {}): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  const { userId, actor } = caller;
  const run = async (work: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      return await work();
    } catch (error) {
      return toolError(error, options.logger);
    }
  };
  const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

  server.registerTool(
    'store_memory',
    {
      title: 'Store a memory',
      description:
        'Save a fact, preference, decision, event or note to long-term memory so it can be recalled in later ' +
        'conversations. Write one self-contained statement per memory (e.g. "The user is allergic to peanuts"). ' +
        'Storing identical content twice keeps one copy and reports it as a duplicate. Returns the memory id.',
      inputSchema: {
        content: z.string().min(1).max(LIMITS.contentChars).describe('The text to remember, self-contained.'),
        category: categoryArg
          .optional()
          .describe('Category for organisation, e.g. "tasks", "notes", "ideas" (default "general").'),
        tags: tagsArg.optional().describe('Short keywords that help find this memory later.'),
        metadata: metadataArg.optional(),
        sessionId: z
          .string()
          .min(1)
          .max(128)
          .optional()
          .describe(
            'The conversation this memory comes from. Memories of one conversation, stored in order, are ' +
              'searched with their neighbours: a matching message also lifts the replies around it.',
          ),
        async: z
          .boolean()
          .optional()
          .describe('true: return at once with a job id and store in the background; check the outcome with get_job.'),
      },
      outputSchema: outputs.store,
      annotations: {
        title: 'Store a memory',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ content, metadata, async: background, ...rest }) =>
      run(async () => {
        const input = { content, ...defined({ ...rest, metadata: asMetadata(metadata) }) };
        if (background) {
          if (!options.jobs) throw new EngramError('invalid_request', 'this server does not run background jobs');
          const job = await options.jobs.enqueue('add', userId, { memories: [input], single: true }, actor);
          const message = `Accepted: the memory is stored in the background as job ${job.id}; call get_job with this id to see the outcome.`;
          return ok(message, { success: true, message, job });
        }
        const { memory, duplicate } = await service.add(userId, input, actor);
        const message = duplicate
          ? `Already remembered: memory ${memory.id} has the same content, so nothing new was stored.`
          : `Stored memory ${memory.id} in category "${memory.category}"${memory.tags.length > 0 ? ` with tags ${memory.tags.join(', ')}` : ''}.`;
        return ok(message, { success: true, memory_id: memory.id, duplicate, message, memory });
      }),
  );

  server.registerTool(
    'retrieve_memory',
    {
      title: 'Retrieve memories',
      description:
        'Recall memories relevant to a query (hybrid keyword + semantic search, best first). Without a query, ' +
        'returns the most recently stored memories. Optionally filter by category or tags (any of them).',
      inputSchema: {
        query: z
          .string()
          .max(LIMITS.queryChars)
          .optional()
          .describe('What to look for, in natural language. Omit to get the most recent memories.'),
        ...filterArgs,
        limit: limitArg(10, LIMITS.searchLimit),
      },
      outputSchema: outputs.retrieve,
      annotations: { title: 'Retrieve memories', ...readOnly },
    },
    ({ query, category, tags, limit }) =>
      run(async () => {
        const filter = toFilter({ category, tags });
        if (query !== undefined && query.trim().length > 0) {
          const { results } = await service.search(userId, { query, limit, ...(filter && { filter }) });
          const text =
            results.length === 0
              ? `No memories match "${preview(query, 80)}".`
              : `Found ${memories(results.length)} for "${preview(query, 80)}", best first:\n\n${results.map((r, i) => formatMemory(r.memory, i)).join('\n\n')}`;
          const found = results.map((result) => ({ ...result.memory, score: result.score }));
          return ok(text, { success: true, count: found.length, mode: 'search', memories: found });
        }
        const page = await service.list(userId, { limit, ...(filter && { filter }) });
        const text =
          page.items.length === 0
            ? filter
              ? 'No memories match these filters.'
              : 'No memories are stored yet.'
            : `The ${page.items.length === 1 ? 'most recent memory' : `${page.items.length} most recent memories`}, newest first:\n\n${page.items.map((m, i) => formatMemory(m, i)).join('\n\n')}`;
        return ok(text, { success: true, count: page.items.length, mode: 'recent', memories: page.items });
      }),
  );

  server.registerTool(
    'list_categories',
    {
      title: 'List categories',
      description: 'List the categories in use with how many memories each holds. Useful before filtering by category.',
      outputSchema: outputs.categories,
      annotations: { title: 'List categories', ...readOnly },
    },
    () =>
      run(async () => {
        const categories = (await service.categories(userId)).map(({ category, count }) => ({ name: category, count }));
        const total = categories.reduce((sum, { count }) => sum + count, 0);
        const text =
          categories.length === 0
            ? 'No memories are stored yet, so there are no categories.'
            : `${plural(categories.length, 'category', 'categories')}, ${memories(total)} in all:\n` +
              categories.map(({ name, count }) => `- ${name}: ${count}`).join('\n');
        return ok(text, { success: true, categories, total });
      }),
  );

  server.registerTool(
    'search_memory',
    {
      title: 'Search memories',
      description:
        'Search memories with full control: mode "hybrid" (default, keyword + semantic), "keyword" (exact words) or ' +
        '"vector" (meaning only), plus filters on category, tags, dates and metadata. Each result shows its score and ' +
        'why it ranked (keyword rank, vector rank and similarity).',
      inputSchema: {
        query: z.string().min(1).max(LIMITS.queryChars).describe('What to look for.'),
        mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid').describe('Retrieval mode (default hybrid).'),
        limit: limitArg(10, LIMITS.searchLimit),
        ...searchFilterArgs,
      },
      outputSchema: outputs.search,
      annotations: { title: 'Search memories', ...readOnly },
    },
    ({ query, mode, limit, ...filters }) =>
      run(async () => {
        const filter = toFilter(filters);
        const { results } = await service.search(userId, { query, mode, limit, ...(filter && { filter }) });
        const text =
          results.length === 0
            ? `No memories match "${preview(query, 80)}" (${mode} search).`
            : `${plural(results.length, 'result')} for "${preview(query, 80)}" (${mode} search), best first:\n\n` +
              results.map(formatResult).join('\n\n');
        return ok(text, { count: results.length, results });
      }),
  );

  server.registerTool(
    'update_memory',
    {
      title: 'Update a memory',
      description:
        'Correct or extend an existing memory by id. Give only the fields to change; tags and metadata replace the ' +
        'old values. The previous version is kept in the memory history. Use this instead of storing a contradiction.',
      inputSchema: {
        id: idArg,
        content: z.string().min(1).max(LIMITS.contentChars).optional().describe('The new text.'),
        category: categoryArg.optional(),
        tags: tagsArg.optional().describe('The new full list of tags.'),
        metadata: metadataArg.optional().describe('The new metadata object (replaces the old one).'),
        eventAt: isoDateArg
          .nullable()
          .optional()
          .describe('When the remembered thing happened (ISO-8601), or null to clear.'),
        expiresAt: isoDateArg
          .nullable()
          .optional()
          .describe('When this memory stops being true (ISO-8601), or null to clear.'),
        pinned: z.boolean().optional().describe('Pinned memories are the ones that matter most.'),
      },
      outputSchema: outputs.update,
      annotations: {
        title: 'Update a memory',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ id, metadata, ...patch }) =>
      run(async () => {
        const { memory, changed } = await service.updateWithChanges(
          userId,
          id,
          defined({ ...patch, metadata: asMetadata(metadata) }),
          actor,
        );
        const text =
          changed.length === 0
            ? `Memory ${memory.id} already had these values; nothing changed.\n\n${formatMemory(memory, 0)}`
            : `Updated memory ${memory.id} (changed: ${changed.join(', ')}):\n\n${formatMemory(memory, 0)}`;
        return ok(text, { memory, changed });
      }),
  );

  server.registerTool(
    'delete_memory',
    {
      title: 'Delete a memory',
      description: 'Delete one memory by id when it is wrong or no longer wanted. Its change history is kept.',
      inputSchema: { id: idArg },
      outputSchema: outputs.delete,
      annotations: {
        title: 'Delete a memory',
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ id }) =>
      run(async () => {
        const deleted = await service.delete(userId, id, actor);
        return ok(`Deleted memory ${deleted.id} ("${preview(deleted.content)}"). Its history is kept.`, { deleted });
      }),
  );

  server.registerTool(
    'list_memories',
    {
      title: 'List memories',
      description:
        'Page through stored memories, newest first, optionally filtered by category or tags (any of them). ' +
        'When more remain, the result includes a cursor: pass it back to get the next page.',
      inputSchema: {
        limit: limitArg(20, LIMITS.searchLimit),
        cursor: z.string().max(512).optional().describe('The cursor from the previous page, to continue listing.'),
        ...filterArgs,
      },
      outputSchema: outputs.list,
      annotations: { title: 'List memories', ...readOnly },
    },
    ({ limit, cursor, category, tags }) =>
      run(async () => {
        const filter = toFilter({ category, tags });
        const page = await service.list(userId, {
          limit,
          ...(cursor !== undefined && { cursor }),
          ...(filter && { filter }),
        });
        const body =
          page.items.length === 0
            ? cursor
              ? 'No more memories.'
              : 'No memories found.'
            : `${memories(page.items.length)}, newest first:\n\n${page.items.map((m, i) => formatMemory(m, i)).join('\n\n')}`;
        const more = page.nextCursor
          ? `\n\nMore memories remain: call list_memories with cursor "${page.nextCursor}".`
          : '';
        return ok(body + more, { count: page.items.length, items: page.items, nextCursor: page.nextCursor });
      }),
  );

  server.registerTool(
    'memory_history',
    {
      title: 'Memory history',
      description:
        'Show how one memory changed over time, oldest first: when it was added, each update (old → new values) and ' +
        'its deletion, with who made each change. Works for deleted memories too.',
      inputSchema: { id: idArg },
      outputSchema: outputs.history,
      annotations: { title: 'Memory history', ...readOnly },
    },
    ({ id }) =>
      run(async () => {
        const history = await service.history(userId, id);
        const text = `History of memory ${id} (${plural(history.length, 'change')}, oldest first):\n${history.map(formatHistoryEntry).join('\n')}`;
        return ok(text, { memoryId: id, history });
      }),
  );

  const jobs = options.jobs;
  if (jobs) {
    server.registerTool(
      'get_job',
      {
        title: 'Get a background job',
        description:
          'Check a background job started by store_memory with async: true: its status (queued, running, ' +
          'succeeded, failed), attempts, and once it succeeded the stored memory; if it failed, why.',
        inputSchema: { id: z.string().min(1).max(128).describe('The job id, exactly as store_memory returned it.') },
        outputSchema: outputs.job,
        annotations: { title: 'Get a background job', ...readOnly },
      },
      ({ id }) =>
        run(async () => {
          const job = await jobs.get(userId, id);
          return ok(describeJob(job), { job });
        }),
    );
  }

  if (service.inferrer) registerExtractTool(server, service, caller, jobs, memoryOutput, run);
  if (options.kb) registerKbTools(server, options.kb, caller, run);
  return server;
}
