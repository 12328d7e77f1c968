import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { type AgentEvent, runAgent } from '../../agent/agent.js';
import { LocalClient } from '../../client/engram-client.js';
import { EngramError, isEngramError, publicError } from '../../core/errors.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { errorResponses } from './shared.js';

const chatSchema = z.strictObject({
  messages: z
    .array(z.strictObject({ role: z.enum(['user', 'assistant']), content: z.string().min(1).max(32_768) }))
    .min(1)
    .max(100)
    .refine((messages) => messages.at(-1)?.role === 'user', 'the last message must be the user’s'),
  /** Server-sent events: `delta` (text), `tool` (a tool the agent used), `done` (answer and sources), `error`. */
  stream: z.boolean().default(false),
});

const sourceSchema = z.object({ kind: z.enum(['memory', 'note']), id: z.string(), text: z.string() });
const replySchema = z.object({
  message: z.object({ role: z.literal('assistant'), content: z.string() }),
  tools: z.array(z.object({ name: z.string(), arguments: z.unknown(), ok: z.boolean() })),
  sources: z.array(sourceSchema),
});

/** `POST /v1/chat`: the memory agent (the bot's agent mode) over HTTP, for API-mode deployments. */
export function chatRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/chat',
      summary: 'Chat with the assistant that uses the caller’s memories and notes (needs an LLM)',
      tags: ['chat'],
      request: { body: { required: true, content: { 'application/json': { schema: chatSchema } } } },
      responses: {
        200: {
          content: {
            'application/json': { schema: replySchema },
            'text/event-stream': { schema: z.string() },
          },
          description: 'the answer (JSON), or a stream of events',
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const model = deps.llm;
      if (!model) {
        throw new EngramError('unavailable', 'no LLM is configured (ENGRAM_LLM_PROVIDER=none); chat needs one');
      }
      const { messages, stream } = c.req.valid('json');
      const caller = c.get('caller');
      const events = runAgent(
        { model, client: new LocalClient(deps.service, deps.kb), maxSteps: deps.config.llm.maxSteps },
        caller.userId,
        messages,
      );
      if (stream) {
        return streamSSE(c, async (sse) => {
          try {
            for await (const event of events) {
              await sse.writeSSE({ event: event.type, data: JSON.stringify(event) });
            }
          } catch (error) {
            deps.logger.warn({ err: (error as Error).message }, 'chat stream failed');
            const visible = isEngramError(error) ? publicError(error) : { code: 'internal', message: 'chat failed' };
            await sse.writeSSE({ event: 'error', data: JSON.stringify({ error: visible }) });
          }
        }) as never;
      }
      const tools: Extract<AgentEvent, { type: 'tool' }>[] = [];
      for await (const event of events) {
        if (event.type === 'tool') tools.push(event);
        if (event.type === 'done') {
          return c.json(
            {
              message: { role: 'assistant' as const, content: event.text },
              tools: tools.map(({ name, arguments: args, ok }) => ({ name, arguments: args, ok })),
              sources: event.sources,
            },
            200,
          );
        }
      }
      throw new EngramError('internal', 'the agent ended without an answer');
    },
  );
}
