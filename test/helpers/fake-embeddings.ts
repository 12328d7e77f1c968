import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible embeddings server (`POST /v1/embeddings`, the real wire format:
 * https://platform.openai.com/docs/api-reference/embeddings) with a deterministic model: each
 * word is hashed into one of `dimension` buckets, so texts that share words are similar. Each
 * request takes at least `delayMs`, like a real model: a test can then tell a request that reached
 * the model from one answered by a cache, whatever the machine's speed (busy machines only add).
 */
export interface FakeEmbeddings {
  /** `ENGRAM_OPENAI_BASE_URL` for it. */
  baseUrl: string;
  /** Every text embedded, in order of arrival. */
  seen: string[];
  /** Texts per request, in order of arrival. */
  requests: string[][];
  close(): Promise<void>;
}

export interface FakeEmbeddingsOptions {
  dimension?: number;
  /** Each request takes at least this long. */
  delayMs?: number;
  /** Answers a request only once the promise this returns for its texts settles (none: at once). */
  hold?: (input: string[]) => Promise<unknown> | undefined;
}

export async function startFakeEmbeddings(options: FakeEmbeddingsOptions = {}): Promise<FakeEmbeddings> {
  const dimension = options.dimension ?? 32;
  const delayMs = options.delayMs ?? 0;
  const seen: string[] = [];
  const requests: string[][] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; input: string | string[] };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    requests.push(input);
    seen.push(...input);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    await options.hold?.(input);
    const data = input.map((text, index) => ({ object: 'embedding', index, embedding: bagOfWords(text, dimension) }));
    const payload = { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  };
  const server = createServer((req, res) => void handle(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    seen,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Word counts hashed into buckets (FNV-1a), plus a constant so no vector is zero. */
export function bagOfWords(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  vector[0] = 0.01;
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 0x01000193);
    const bucket = (hash >>> 0) % dimension;
    vector[bucket] = (vector[bucket] as number) + 1;
  }
  return vector;
}
