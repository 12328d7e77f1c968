/**
 * The assistant that uses memory: an LLM with tools over an `EngramClient` (search memories,
 * search and read notes, remember a fact), run in a loop until it answers or runs out of steps.
 * Used by the bot's agent mode and by `POST /v1/chat`. The model's tool arguments are validated;
 * malformed or unknown calls are answered with an error the model can read, never thrown.
 */
import { z } from 'zod';
import type { EngramClient } from '../client/engram-client.js';
import { isEngramError, publicError } from '../core/errors.js';
import type { ChatMessage, ChatModel, ToolCall, ToolSpec } from '../llm/index.js';

export interface Source {
  kind: 'memory' | 'note';
  /** Memory id, or the note's path. */
  id: string;
  text: string;
}

export type AgentEvent =
  | { type: 'tool'; name: string; arguments: unknown; ok: boolean }
  | { type: 'delta'; text: string }
  | { type: 'done'; text: string; sources: Source[]; steps: number };

export interface AgentOptions {
  model: ChatModel;
  client: EngramClient;
  /** Tool-calling rounds before the model must answer without tools. */
  maxSteps: number;
  now?: () => Date;
}

const SYSTEM = (now: string) =>
  `You are a helpful assistant with long-term memory of this user. Now is ${now}.
Before answering anything that may depend on what the user told you before, look it up with search_memory
(and kb_search / kb_read for their notes). When the user tells you a durable fact about themselves, save it
with store_memory. Answer concisely, and only claim what the memories or notes say; if they say nothing,
say you do not know.`;

const toolArgs = {
  search_memory: z.object({ query: z.string().min(1).max(4_096), limit: z.number().int().min(1).max(20).optional() }),
  kb_search: z.object({ query: z.string().min(1).max(4_096) }),
  kb_read: z.object({ path: z.string().min(1).max(512) }),
  store_memory: z.object({
    content: z.string().min(1).max(32_768),
    category: z.string().min(1).max(64).optional(),
    tags: z.array(z.string().min(1).max(64)).max(20).optional(),
  }),
};
type ToolName = keyof typeof toolArgs;

const TOOLS: ToolSpec[] = [
  {
    name: 'search_memory',
    description:
      "Search the user's memories (facts, preferences, past conversations, note sections). Returns the best matches with ids.",
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 20 } },
      required: ['query'],
    },
  },
  {
    name: 'kb_search',
    description: "Search the user's knowledge-base notes (markdown). Returns matching sections with the note path.",
    parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
  },
  {
    name: 'kb_read',
    description: 'Read one whole note by the path kb_search returned.',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
  {
    name: 'store_memory',
    description: 'Remember one durable, self-contained fact about the user for later conversations.',
    parameters: {
      type: 'object',
      properties: {
        content: { type: 'string' },
        category: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['content'],
    },
  },
];

/** One agent turn: `history` is the conversation so far, ending with the user's message. */
export async function* runAgent(
  options: AgentOptions,
  userId: string,
  history: ChatMessage[],
): AsyncIterable<AgentEvent> {
  const { model, maxSteps } = options;
  const messages: ChatMessage[] = [
    { role: 'system', content: SYSTEM((options.now?.() ?? new Date()).toISOString()) },
    ...history,
  ];
  const sources = new Map<string, Source>();
  for (let step = 1; ; step++) {
    const lastStep = step > maxSteps;
    let result = null;
    for await (const chunk of model.stream({ messages, ...(lastStep ? {} : { tools: TOOLS }) })) {
      if (chunk.type === 'delta') yield chunk;
      else result = chunk.result;
    }
    if (!result) throw new Error('the model stream ended without a result');
    if (result.toolCalls.length === 0 || lastStep) {
      yield { type: 'done', text: result.content ?? '', sources: [...sources.values()], steps: step };
      return;
    }
    messages.push({ role: 'assistant', content: result.content, toolCalls: result.toolCalls });
    for (const call of result.toolCalls) {
      const outcome = await runTool(options.client, userId, call, sources);
      yield { type: 'tool', name: call.name, arguments: outcome.arguments, ok: outcome.ok };
      messages.push({ role: 'tool', toolCallId: call.id, content: outcome.text });
    }
  }
}

async function runTool(
  client: EngramClient,
  userId: string,
  call: ToolCall,
  sources: Map<string, Source>,
): Promise<{ ok: boolean; text: string; arguments: unknown }> {
  let raw: unknown;
  try {
    raw = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
  } catch {
    return { ok: false, text: `Error: the arguments of ${call.name} were not valid JSON.`, arguments: call.arguments };
  }
  if (!(call.name in toolArgs)) {
    return { ok: false, text: `Error: there is no tool named ${call.name}.`, arguments: raw };
  }
  const name = call.name as ToolName;
  const parsed = toolArgs[name].safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      text: `Error: invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`,
      arguments: raw,
    };
  }
  try {
    return { ok: true, text: await execute(client, userId, name, parsed.data, sources), arguments: parsed.data };
  } catch (error) {
    const message = isEngramError(error) ? publicError(error).message : 'the tool failed';
    return { ok: false, text: `Error: ${message}`, arguments: parsed.data };
  }
}

async function execute(
  client: EngramClient,
  userId: string,
  name: ToolName,
  args: unknown,
  sources: Map<string, Source>,
): Promise<string> {
  switch (name) {
    case 'search_memory': {
      const { query, limit } = args as z.infer<typeof toolArgs.search_memory>;
      const found = await client.search(userId, query, limit ?? 8);
      for (const hit of found) sources.set(hit.id, { kind: 'memory', id: hit.id, text: hit.content });
      return found.length === 0
        ? 'No memory matches.'
        : found
            .map((hit, i) => `${i + 1}. [${hit.id}] ${hit.content}${hit.kbPath ? ` (note ${hit.kbPath})` : ''}`)
            .join('\n');
    }
    case 'kb_search': {
      const { query } = args as z.infer<typeof toolArgs.kb_search>;
      const hits = await client.searchNotes(userId, query, 5);
      for (const hit of hits)
        sources.set(hit.path, { kind: 'note', id: hit.path, text: `${hit.heading}\n${hit.text}` });
      return hits.length === 0
        ? 'No note matches.'
        : hits.map((hit, i) => `${i + 1}. ${hit.heading} (${hit.path})\n${hit.text}`).join('\n\n');
    }
    case 'kb_read': {
      const { path } = args as z.infer<typeof toolArgs.kb_read>;
      const note = await client.readNote(userId, path);
      sources.set(note.path, { kind: 'note', id: note.path, text: note.title });
      return `# ${note.title}\n\n${note.body}`;
    }
    case 'store_memory': {
      const { content, category, tags } = args as z.infer<typeof toolArgs.store_memory>;
      const id = await client.remember(userId, content, {
        ...(category !== undefined && { category }),
        ...(tags !== undefined && { tags }),
      });
      return `Stored as memory ${id}.`;
    }
  }
}

/**
 * A grounded answer without tools: the best matching memories and note sections are numbered in
 * the prompt, and the model answers citing them as [n]. Returns the answer and the sources it cited.
 */
export async function answerFromMemory(
  model: ChatModel,
  client: EngramClient,
  userId: string,
  question: string,
): Promise<{ answer: string; sources: Source[] }> {
  const found = await client.search(userId, question, 8);
  if (found.length === 0) return { answer: 'I have nothing stored about that yet.', sources: [] };
  const numbered = found.map((hit, i) => `[${i + 1}] ${hit.content}`).join('\n\n');
  const result = await model.chat({
    messages: [
      {
        role: 'system',
        content:
          'Answer the question using only the numbered sources from the user’s memory. Cite each source you use as [n]. ' +
          'If the sources do not contain the answer, say so. Be brief.',
      },
      { role: 'user', content: `Sources:\n${numbered}\n\nQuestion: ${question}` },
    ],
  });
  const answer = (result.content ?? '').trim();
  const cited = new Set([...answer.matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1])));
  const sources = found
    .filter((_, i) => cited.has(i + 1))
    .map((hit) => ({
      kind: hit.kbPath ? ('note' as const) : ('memory' as const),
      id: hit.kbPath ?? hit.id,
      text: hit.content,
    }));
  return { answer: answer || 'The model returned no answer.', sources };
}
