import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';

/**
 * A scripted Anthropic Messages API for tests: `POST /v1/messages` in the real wire format
 * (https://docs.anthropic.com/en/api/messages), a JSON message with `text` and `tool_use` content
 * blocks and usage, or streamed as server-sent events (message_start, content_block_start,
 * content_block_delta with text_delta / input_json_delta, content_block_stop, message_delta,
 * message_stop). Errors have Anthropic's `{ type: 'error', error: { type, message } }` body.
 * Like the real API it refuses what it would refuse: no API key or anthropic-version, no
 * max_tokens, a `system` role inside messages, or tool_use blocks not answered by tool_result
 * blocks in the next user turn.
 */

export interface AnthropicReply {
  text?: string;
  /** `input` as an object, or (streaming only) raw JSON text, possibly malformed. */
  toolCalls?: { name: string; input: Record<string, unknown> | string }[];
  /** Answer with this HTTP status and an Anthropic error body instead. */
  status?: number;
  /** The error's message (default `scripted <status>`). */
  message?: string;
  /** Wait this long before answering (for timeouts). */
  delayMs?: number;
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: unknown };

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  system?: string;
  messages: { role: string; content: string | Block[] }[];
  tools?: { name: string; description?: string; input_schema: Record<string, unknown> }[];
  tool_choice?: { type: string; name?: string };
  stream?: boolean;
  /** Headers of interest, as received. */
  headers: { apiKey: string | undefined; version: string | undefined };
}

export interface FakeAnthropic {
  /** For the SDK's `baseURL` (it appends /v1/messages). */
  baseUrl: string;
  requests: AnthropicRequest[];
  script(...replies: AnthropicReply[]): void;
  remaining(): number;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const app = new Hono();
  const queue: AnthropicReply[] = [];
  const requests: AnthropicRequest[] = [];
  let calls = 0;

  const error = (status: number, message: string) =>
    new Response(JSON.stringify({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } }), {
      status,
      headers: { 'content-type': 'application/json', 'request-id': `req_${calls}` },
    });

  app.post('/v1/messages', async (c) => {
    const body = (await c.req.json()) as Omit<AnthropicRequest, 'headers'>;
    // API version 2026-10-21 (SDK 1.x) sends `Authorization: Bearer <key>`; older ones sent x-api-key.
    const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    const headers = { apiKey: bearer ?? c.req.header('x-api-key'), version: c.req.header('anthropic-version') };
    requests.push({ ...body, headers });
    if (!headers.apiKey) return error(401, 'an API key is required (Authorization: Bearer, or x-api-key)');
    if (!headers.version) return error(400, 'anthropic-version header is required');
    const invalid = validate(body);
    if (invalid) return error(400, invalid);

    const reply = queue.shift();
    if (!reply) return error(500, 'no scripted reply left');
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (reply.status) return error(reply.status, reply.message ?? `scripted ${reply.status}`);

    const n = ++calls;
    const id = `msg_${n}`;
    const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
      id: `toolu_${n}_${index}`,
      name: call.name,
      json: typeof call.input === 'string' ? call.input : JSON.stringify(call.input),
    }));
    const inputTokens = JSON.stringify([body.system, body.messages, body.tools]).length >> 2;
    const outputTokens = ((reply.text ?? '').length >> 2) + toolCalls.length * 10 + 1;
    const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
    const usage = (input: number, output: number) => ({
      input_tokens: input,
      output_tokens: output,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      service_tier: 'standard',
    });
    const message = (content: unknown[], stop: string | null, output: number) => ({
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage: usage(inputTokens, output),
    });

    if (!body.stream) {
      const content = [
        ...(reply.text ? [{ type: 'text', text: reply.text }] : []),
        ...toolCalls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: JSON.parse(call.json) })),
      ];
      return c.json(message(content, stopReason, outputTokens));
    }

    return streamSSE(c, async (sse) => {
      const send = (event: string, data: Record<string, unknown>) =>
        sse.writeSSE({ event, data: JSON.stringify({ type: event, ...data }) });
      await send('message_start', { message: message([], null, 1) });
      let index = 0;
      if (reply.text) {
        await send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        await send('ping', {});
        for (const piece of reply.text.match(/\S+\s*/g) ?? []) {
          await send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
        }
        await send('content_block_stop', { index });
        index++;
      }
      for (const call of toolCalls) {
        await send('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
        });
        // The arguments in three pieces, as the API splits them.
        const third = Math.ceil(call.json.length / 3);
        for (const piece of [
          call.json.slice(0, third),
          call.json.slice(third, 2 * third),
          call.json.slice(2 * third),
        ]) {
          await send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
        }
        await send('content_block_stop', { index });
        index++;
      }
      await send('message_delta', {
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: outputTokens },
      });
      await send('message_stop', {});
    });
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    script: (...replies) => {
      queue.push(...replies);
    },
    remaining: () => queue.length,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/** The checks of the real API that a wrong mapping would trip. */
function validate(body: Omit<AnthropicRequest, 'headers'>): string | null {
  if (typeof body.model !== 'string') return 'model: Field required';
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, message] of body.messages.entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') {
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    }
    if (i > 0 && body.messages[i - 1]?.role === message.role) {
      return `messages.${i}: roles must alternate between "user" and "assistant"`;
    }
    const blocks = typeof message.content === 'string' ? [] : message.content;
    const uses = blocks.flatMap((block) => (block.type === 'tool_use' ? [block.id] : []));
    if (uses.length === 0) continue;
    const next = body.messages[i + 1];
    const answered = new Set(
      next && typeof next.content !== 'string'
        ? next.content.flatMap((block) => (block.type === 'tool_result' ? [block.tool_use_id] : []))
        : [],
    );
    const missing = uses.filter((id) => !answered.has(id));
    if (missing.length > 0) {
      return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(', ')}`;
    }
  }
  if (body.tool_choice && !body.tools?.length) return 'tool_choice may only be specified while providing tools';
  if (body.tool_choice?.type === 'tool' && !body.tools?.some((tool) => tool.name === body.tool_choice?.name)) {
    return `tool_choice: no tool named ${body.tool_choice.name}`;
  }
  for (const tool of body.tools ?? []) {
    if (tool.input_schema?.type !== 'object') return `tools.${tool.name}.input_schema.type: Input should be 'object'`;
  }
  return null;
}
