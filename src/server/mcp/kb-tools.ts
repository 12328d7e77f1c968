import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { categorySchema, LIMITS } from '../../core/schemas.js';
import type { KnowledgeBase } from '../../kb/index.js';
import { kbHitSchema, noteSchema, noteSummarySchema } from '../../kb/schemas.js';
import type { Caller } from '../request-context.js';
import { ok, READ_ONLY, type RunTool } from './results.js';
import { tagsArg } from './tool-schemas.js';

/** The knowledge-base tools, registered when the server has a knowledge base. */
export const KB_TOOL_NAMES = ['kb_search', 'kb_read', 'kb_list', 'kb_add_note'] as const;

const pathArg = z
  .string()
  .min(1)
  .max(512)
  .describe('The note path exactly as kb_search or kb_list showed it, e.g. topics/work/2026-11-22-plan.md.');

export function registerKbTools(server: McpServer, kb: KnowledgeBase, caller: Caller, run: RunTool): void {
  const { userId, actor } = caller;

  server.registerTool(
    'kb_search',
    {
      title: 'Search the knowledge base',
      description:
        "Search the user's knowledge base — markdown notes (e.g. captured from Telegram) kept in a git repository — " +
        'by meaning and keywords. Returns matching sections with the note path; read a whole note with kb_read.',
      inputSchema: {
        query: z.string().min(1).max(LIMITS.queryChars).describe('What to look for, in natural language or keywords.'),
        limit: z.number().int().min(1).max(20).default(5).describe('How many sections to return (1-20, default 5).'),
      },
      outputSchema: { count: z.number(), results: z.array(kbHitSchema) },
      annotations: { title: 'Search the knowledge base', ...READ_ONLY },
    },
    ({ query, limit }) =>
      run(async () => {
        const results = await kb.search(userId, query, limit);
        const text =
          results.length === 0
            ? `No note matches "${query}".`
            : results
                .map(
                  (hit, i) =>
                    `${i + 1}. ${hit.heading}\n   ${hit.text.replace(/\s+/g, ' ').slice(0, 300)}\n   (${hit.path})`,
                )
                .join('\n');
        return ok(text, { count: results.length, results });
      }),
  );

  server.registerTool(
    'kb_read',
    {
      title: 'Read a note',
      description:
        'Read one knowledge-base note in full: title, category, tags, when it was written, and its markdown.',
      inputSchema: { path: pathArg },
      outputSchema: { note: noteSchema },
      annotations: { title: 'Read a note', ...READ_ONLY },
    },
    ({ path }) =>
      run(async () => {
        const note = await kb.read(userId, path);
        const tags = note.tags.length > 0 ? ` · tags ${note.tags.join(', ')}` : '';
        return ok(`# ${note.title}\n(${note.path} · ${note.category}${tags} · ${note.createdAt})\n\n${note.body}`, {
          note,
        });
      }),
  );

  server.registerTool(
    'kb_list',
    {
      title: 'List notes',
      description: "List the user's knowledge-base notes, newest first, optionally of one category (topic folder).",
      inputSchema: {
        category: z.string().min(1).max(64).optional().describe('Only notes in this topic folder, e.g. "work".'),
        limit: z.number().int().min(1).max(200).default(50).describe('How many to return (1-200, default 50).'),
      },
      outputSchema: { count: z.number(), total: z.number(), notes: z.array(noteSummarySchema) },
      annotations: { title: 'List notes', ...READ_ONLY },
    },
    ({ category, limit }) =>
      run(async () => {
        const all = kb.list(userId, { category });
        const notes = all.slice(0, limit);
        const text =
          notes.length === 0
            ? 'No notes yet.'
            : notes.map((note, i) => `${i + 1}. ${note.title} (${note.path}, ${note.createdAt})`).join('\n');
        return ok(text, { count: notes.length, total: all.length, notes });
      }),
  );

  server.registerTool(
    'kb_add_note',
    {
      title: 'Write a note',
      description:
        'Write a markdown note into the knowledge base: it is committed to the git repository under ' +
        'topics/<category>/ and becomes searchable at once. Use it for longer material; store_memory for single facts.',
      inputSchema: {
        body: z
          .string()
          .min(1)
          .max(LIMITS.contentChars * 10)
          .describe('The note, in markdown.'),
        title: z.string().max(120).optional().describe('Title (default: its first line).'),
        category: categorySchema.optional().describe('Topic folder, e.g. "work" (default "general").'),
        tags: tagsArg.optional(),
      },
      outputSchema: { path: z.string(), commit: z.string().nullable(), memoryIds: z.array(z.string()) },
      annotations: { title: 'Write a note', readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      run(async () => {
        const { note, commit, memoryIds } = await kb.create(userId, { ...input, source: actor.source });
        return ok(`Wrote ${note.path}${commit ? ` (commit ${commit.slice(0, 8)})` : ''}.`, {
          path: note.path,
          commit,
          memoryIds,
        });
      }),
  );
}
