/**
 * Worker thread for the fairness benchmark: Alice floods the server on this thread's own event
 * loop — notes of 400 sections, batches of 200 adds, and MCP `store_memory` calls 20 at a time —
 * until told to stop, then posts back what she sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { memoryTexts } from './gen.js';
import { postJson as post } from './http-client.js';

export interface FloodCounts {
  notes: number;
  adds: number;
  mcpCalls: number;
  sections: number;
}

const { url, key } = workerData as { url: string; key: string };
let stopping = false;
parentPort?.on('message', (message) => {
  if (message === 'stop') stopping = true;
});

const counts: FloodCounts = { notes: 0, adds: 0, mcpCalls: 0, sections: 0 };
const texts = memoryTexts(20_000, 77);
let cursor = 0;
const nextTexts = (n: number) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${texts[cursor++ % texts.length]} [${cursor}]`);
  return out;
};
const notes = async () => {
  while (!stopping) {
    const body = nextTexts(400)
      .map((text, i) => `## Section ${i}\n${text}`)
      .join('\n\n');
    await post(url, key, '/v1/kb/notes', { title: `Flood ${counts.notes}`, body });
    counts.notes++;
    counts.sections += 400;
  }
};
const batches = async () => {
  while (!stopping) {
    await post(url, key, '/v1/memories', { memories: nextTexts(200).map((content) => ({ content })) });
    counts.adds += 200;
  }
};
const mcp = async () => {
  const client = new Client({ name: 'flood', version: '0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  while (!stopping) {
    await Promise.all(
      nextTexts(20).map((content) => client.callTool({ name: 'store_memory', arguments: { content } })),
    );
    counts.mcpCalls += 20;
  }
  await client.close();
};

parentPort?.postMessage('started');
await Promise.all([notes(), notes(), batches(), batches(), mcp()]);
parentPort?.postMessage(counts);
