import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import type { MemoryService } from '../../core/memory-service.js';
import { LIMITS } from '../../core/schemas.js';
import type { EngramJobs } from '../../jobs/index.js';
import type { Caller } from '../request-context.js';
import { describeJob, formatHistoryEntry, formatMemory, formatResult, memories, plural, preview } from './format.js';
import { ok, READ_ONLY, type RunTool, writes } from './results.js';
import {
  asMetadata,
  categoryArg,
  cursorArg,
  defined,
  filterArgs,
  idArg,
  isoDateArg,
  limitArg,
  metadataArg,
  outputs,
  searchFilterArgs,
  tagsArg,
  toFilter,
} from './tool-schemas.js';

/** The memory tools: store, recall, search, correct, page, history, and background jobs (erase-tools.ts: delete, restore, forget). */
export const MEMORY_TOOL_NAMES = [
  'store_memory',
  'retrieve_memory',
  'list_categories',
  'search_memory',
  'update_memory',
  'list_memories',
  'memory_history',
  'get_job',
] as const;

export function registerMemoryTools(
  server: McpServer,
  service: MemoryService,
  caller: Caller,
  jobs: EngramJobs | null | undefined,
  run: RunTool,
): void {
  const { userId, actor } = caller;

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
      annotations: writes('Store a memory', { destructive: false, idempotent: true }),
    },
    ({ content, metadata, async: background, ...rest }) =>
      run(async () => {
        const input = { content, ...defined({ ...rest, metadata: asMetadata(metadata) }) };
        if (background) {
          if (!jobs) throw new EngramError('invalid_request', 'this server does not run background jobs');
          const job = await jobs.enqueue('add', userId, { memories: [input], single: true }, actor);
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
        'Recall memories relevant to a query (hybrid keyword + semantic search, best first). Only relevant memories ' +
        'are returned: when none is, the answer says so — nothing stored answers the query. Without a query, ' +
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
      annotations: { title: 'Retrieve memories', ...READ_ONLY },
    },
    ({ query, category, tags, limit }) =>
      run(async () => {
        const filter = toFilter({ category, tags });
        if (query !== undefined && query.trim().length > 0) {
          const { results } = await service.search(userId, {
            query,
            limit,
            relevantOnly: true,
            ...(filter && { filter }),
          });
          const text =
            results.length === 0
              ? `No relevant memory for "${preview(query, 80)}".`
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
      annotations: { title: 'List categories', ...READ_ONLY },
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
        'why it ranked (keyword rank, vector rank and similarity). Results whose meaning is not similar enough to the ' +
        'query (minRelevance) are left out; when none is left, the answer says no memory is relevant.',
      inputSchema: {
        query: z.string().min(1).max(LIMITS.queryChars).describe('What to look for.'),
        mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid').describe('Retrieval mode (default hybrid).'),
        limit: limitArg(10, LIMITS.searchLimit),
        minRelevance: z
          .number()
          .min(-1)
          .max(1)
          .optional()
          .describe(
            'Cosine similarity to the query a result needs (default: the server setting, ENGRAM_SEARCH_MIN_RELEVANCE).',
          ),
        ...searchFilterArgs,
      },
      outputSchema: outputs.search,
      annotations: { title: 'Search memories', ...READ_ONLY },
    },
    ({ query, mode, limit, minRelevance, ...filters }) =>
      run(async () => {
        const filter = toFilter(filters);
        const { results } = await service.search(userId, {
          query,
          mode,
          limit,
          relevantOnly: true,
          ...(minRelevance !== undefined && { minRelevance }),
          ...(filter && { filter }),
        });
        const text =
          results.length === 0
            ? `No relevant memory for "${preview(query, 80)}" (${mode} search).`
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
      annotations: writes('Update a memory', { destructive: false, idempotent: true }),
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
    'list_memories',
    {
      title: 'List memories',
      description:
        'Page through stored memories, newest first, optionally filtered by category or tags (any of them). ' +
        'When more remain, the result includes a cursor: pass it back to get the next page.',
      inputSchema: {
        limit: limitArg(20, LIMITS.searchLimit),
        cursor: cursorArg,
        ...filterArgs,
      },
      outputSchema: outputs.list,
      annotations: { title: 'List memories', ...READ_ONLY },
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
      annotations: { title: 'Memory history', ...READ_ONLY },
    },
    ({ id }) =>
      run(async () => {
        const history = await service.history(userId, id);
        const text = `History of memory ${id} (${plural(history.length, 'change')}, oldest first):\n${history.map(formatHistoryEntry).join('\n')}`;
        return ok(text, { memoryId: id, history });
      }),
  );

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
        annotations: { title: 'Get a background job', ...READ_ONLY },
      },
      ({ id }) =>
        run(async () => {
          const job = await jobs.get(userId, id);
          return ok(describeJob(job), { job });
        }),
    );
  }
}
