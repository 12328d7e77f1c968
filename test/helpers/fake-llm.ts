import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { bagOfWords } from './fake-embeddings.js';

/**
 * A scripted OpenAI-compatible chat server for tests: `POST /v1/chat/completions` in the real wire
 * format (https://platform.openai.com/docs/api-reference/chat), JSON or streamed as server-sent
 * events (`data: {chunk}` … `data: [DONE]`), with tool calls and usage. Each request takes the
 * next scripted reply; a reply can also be an HTTP error, a delay, or a raw (malformed) body.
 * With `embeddingDimension` it also answers `POST /v1/embeddings` (bag-of-words vectors, as
 * fake-embeddings.ts), like a model server such as Ollama that serves both.
 */

export interface ScriptedReply {
  content?: string;
  toolCalls?: { name: string; arguments: string | Record<string, unknown> }[];
  /** Answer with this HTTP status and an OpenAI-style error body instead. */
  status?: number;
  /** Wait this long before answering (for timeouts). */
  delayMs?: number;
  /** Send this body verbatim (application/json), e.g. malformed JSON. */
  raw?: string;
}

export interface RecordedRequest {
  model: string;
  messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: { function: { name: string; parameters?: Record<string, unknown> } }[];
  tool_choice?: string | { type: 'function'; function: { name: string } };
  stream?: boolean;
}

export interface FakeLlm {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Embedding requests (with `embeddingDimension`), in order of arrival. */
  embedded: { model: string; input: string[] }[];
  /** Appends replies to the script. */
  script(...replies: ScriptedReply[]): void;
  /** Replies not used yet. */
  remaining(): number;
  /** Drops the replies not used yet; returns how many there were. */
  clear(): number;
  close(): Promise<void>;
}

export async function startFakeLlm(options: { embeddingDimension?: number } = {}): Promise<FakeLlm> {
  const app = new Hono();
  const queue: ScriptedReply[] = [];
  const requests: RecordedRequest[] = [];
  const embedded: { model: string; input: string[] }[] = [];
  let calls = 0;

  const dimension = options.embeddingDimension;
  if (dimension !== undefined) {
    app.post('/v1/embeddings', async (c) => {
      const body = (await c.req.json()) as { model: string; input: string | string[] };
      const input = typeof body.input === 'string' ? [body.input] : body.input;
      embedded.push({ model: body.model, input });
      const data = input.map((text, index) => ({ object: 'embedding', index, embedding: bagOfWords(text, dimension) }));
      return c.json({ object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
    });
  }

  app.post('/v1/chat/completions', async (c) => {
    const body = (await c.req.json()) as RecordedRequest & { stream_options?: { include_usage?: boolean } };
    requests.push(body);
    const reply = queue.shift();
    if (!reply) return c.json({ error: { message: 'no scripted reply left', type: 'server_error' } }, 500);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (reply.status) {
      return c.json(
        {
          error: {
            message: `scripted ${reply.status}`,
            type: reply.status === 429 ? 'rate_limit_exceeded' : 'server_error',
          },
        },
        reply.status as 429 | 500,
      );
    }
    if (reply.raw !== undefined) return c.body(reply.raw, 200, { 'content-type': 'application/json' });

    const id = `chatcmpl-${++calls}`;
    const created = Math.floor(Date.now() / 1000);
    const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
      index,
      id: `call_${calls}_${index}`,
      type: 'function' as const,
      function: {
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    }));
    const promptTokens = JSON.stringify(body.messages).length >> 2;
    const completionTokens = ((reply.content ?? '').length >> 2) + toolCalls.length * 10;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';

    if (!body.stream) {
      return c.json({
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: reply.content ?? null,
              ...(toolCalls.length > 0 && { tool_calls: toolCalls.map(({ index: _index, ...call }) => call) }),
            },
            finish_reason: finish,
          },
        ],
        usage,
      });
    }

    return streamSSE(c, async (sse) => {
      const chunk = (delta: Record<string, unknown>, finishReason: string | null = null, extra = {}) =>
        sse.writeSSE({
          data: JSON.stringify({
            id,
            object: 'chat.completion.chunk',
            created,
            model: body.model,
            choices: [{ index: 0, delta, finish_reason: finishReason }],
            ...extra,
          }),
        });
      await chunk({ role: 'assistant', content: '' });
      for (const piece of (reply.content ?? '').match(/\S+\s*/g) ?? []) await chunk({ content: piece });
      for (const call of toolCalls) {
        // Name first, then the arguments in two pieces, as real servers split them.
        const half = Math.ceil(call.function.arguments.length / 2);
        await chunk({
          tool_calls: [
            { index: call.index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
          ],
        });
        await chunk({
          tool_calls: [{ index: call.index, function: { arguments: call.function.arguments.slice(0, half) } }],
        });
        await chunk({
          tool_calls: [{ index: call.index, function: { arguments: call.function.arguments.slice(half) } }],
        });
      }
      await chunk({}, finish);
      if (body.stream_options?.include_usage) {
        await sse.writeSSE({
          data: JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage }),
        });
      }
      await sse.writeSSE({ data: '[DONE]' });
    });
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    embedded,
    script: (...replies) => {
      queue.push(...replies);
    },
    remaining: () => queue.length,
    clear: () => queue.splice(0).length,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
