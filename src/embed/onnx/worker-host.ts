/**
 * The thread plumbing shared by the ONNX embedders: each runs its whole pipeline (tokeniser,
 * onnxruntime session, pooling) in dedicated worker threads, because onnxruntime-node's `run()`
 * blocks the calling thread's event loop for the whole inference and tokenising long texts is not
 * cheap either. The caller's event loop only posts texts and receives vectors.
 *
 * - `WorkerHost` (caller side): one worker (`WorkerLane`, worker-lane.ts) for everything, or, by
 *   default, two: queries get a worker of their own, and bulk work (imports, batch adds, notes)
 *   runs in a worker at a lower CPU priority. On a small machine a batch of someone's import takes
 *   tens of milliseconds; a query that had to wait for it would be several times slower.
 * - `serveWorker` (worker side): builds the pipeline, answers requests one at a time in arrival
 *   order (each inference uses the whole intra-op thread pool), queries first.
 *
 * An embedder module is its own worker's entry: compiled (`.js`) it is started directly; from the
 * TypeScript sources it runs as a bundle (util/worker.ts).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { EngramError } from '../../core/errors.js';
import { lowerThreadPriority } from '../../util/thread-priority.js';
import type { Embedder, EmbedOptions } from '../embedder.js';
import {
  type HostedData,
  type LaneName,
  type Request,
  WorkerLane,
  type WorkerLaneOptions,
  type WorkerMessage,
} from './worker-lane.js';

/** How much the bulk worker (and the model threads it starts) lowers its priority: nice +10. */
const BULK_NICE = 10;

export interface WorkerHostOptions<Info> extends Omit<WorkerLaneOptions<Info>, 'init' | 'lane'> {
  /** A worker's init data, computed at each start; may throw, e.g. to refuse a bad model directory. */
  init(lane: LaneName): Promise<unknown> | unknown;
  /**
   * Give queries a worker of their own (a second copy of the model) and run bulk work in a worker
   * at a lower CPU priority, so a query never waits for a batch of someone's import. Off: one
   * worker serves both, queries first among waiting requests.
   */
  readonly queryWorker: boolean;
}

/**
 * Model threads for a lane's worker, given the embedder's setting: all of them, except for the
 * query worker, which gets half (at least one). A query is one short text: more threads gain it
 * little, and under load each extra thread is one more that can be preempted while the others
 * wait for it (measured on 2 cores during a flood: query embedding p99 21 ms with one thread,
 * 48 ms with two; idle, the same).
 */
export function laneThreads(lane: LaneName, threads: number): number {
  return lane === 'query' ? Math.max(1, Math.floor(threads / 2)) : threads;
}

/** The embedder's model workers: one for everything, or one for queries and one for bulk work. */
export class WorkerHost<Info> {
  readonly #bulk: WorkerLane<Info>;
  readonly #query: WorkerLane<Info> | undefined;

  constructor(options: WorkerHostOptions<Info>) {
    const lane = (name: LaneName) => new WorkerLane<Info>({ ...options, lane: name, init: () => options.init(name) });
    this.#bulk = lane(options.queryWorker ? 'bulk' : 'all');
    this.#query = options.queryWorker ? lane('query') : undefined;
  }

  /** What the worker reported when it became ready (undefined before). */
  get info(): Info | undefined {
    return this.#bulk.info;
  }

  /** Starts the workers (again after one died). Resolves when their pipelines are built and warmed up. */
  async start(): Promise<void> {
    await Promise.all([this.#bulk.start(), this.#query?.start()]);
  }

  /** One vector per text; `urgent` requests go to the query worker, or before waiting bulk ones. */
  embed(texts: readonly string[], urgent = false): Promise<Float32Array[]> {
    return urgent && this.#query ? this.#query.embed(texts, true) : this.#bulk.embed(texts, urgent);
  }

  /** Finishes the requests already sent, then stops the workers. */
  async close(): Promise<void> {
    await Promise.all([this.#bulk.close(), this.#query?.close()]);
  }
}

/**
 * An embedder whose model runs in a `WorkerHost`: subclasses set the model id and dimension and
 * build the host; requests and lifecycle go straight to it.
 */
export abstract class HostedEmbedder<Info> implements Embedder {
  abstract readonly model: string;
  abstract readonly dimension: number;
  protected abstract readonly host: WorkerHost<Info>;

  /** Starts the worker, which builds the model's pipeline and runs it once. */
  init(): Promise<void> {
    return this.host.start();
  }

  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]> {
    return this.host.embed(texts, options?.urgent === true);
  }

  /** Finishes the requests already sent, then stops the worker. */
  close(): Promise<void> {
    return this.host.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side.

function hostedData(): HostedData | undefined {
  const data: unknown = isMainThread ? undefined : workerData;
  return typeof data === 'object' && data !== null && typeof (data as HostedData).engramWorker === 'string'
    ? (data as HostedData)
    : undefined;
}

/** The init data when this thread is a worker started for `marker`'s entry, else undefined. */
export function hostedInit<Init>(marker: string): Init | undefined {
  const data = hostedData();
  return data?.engramWorker === marker ? (data.init as Init) : undefined;
}

/** What the worker serves: a built pipeline's info and how to embed a batch (flat vectors). */
export interface HostedPipeline<Info> {
  readonly info: Info;
  run(texts: readonly string[]): Promise<Float32Array>;
}

/** Most texts merged into one pipeline run (the pipeline still cuts them into its own batches). */
const MERGE_MAX_TEXTS = 256;

/** The requests at the head of the queue that run together: in order, up to MERGE_MAX_TEXTS, urgent ones apart. */
function takeGroup(waiting: Request[]): Request[] {
  const group = [waiting.shift() as Request];
  if (group[0]?.alone) return group;
  const urgent = group[0]?.urgent === true;
  let texts = group[0]?.texts.length ?? 0;
  for (
    let next = waiting[0];
    next && !next.alone && (next.urgent === true) === urgent && texts + next.texts.length <= MERGE_MAX_TEXTS;
    next = waiting[0]
  ) {
    group.push(waiting.shift() as Request);
    texts += next.texts.length;
  }
  return group;
}

/**
 * Serves requests from the caller until the thread is stopped: builds the pipeline (reporting a
 * failure with its error code), then embeds requests in arrival order — those that queued up
 * during an inference in one run (fuller batches under concurrent load; each still gets its own
 * answer, and a failing request fails alone).
 */
export async function serveWorker<Info>(build: () => Promise<HostedPipeline<Info>>): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Stdout belongs to stdio MCP and a worker's stdout is piped into the process's.
  console.log = console.info = console.debug = console.error;
  // Before the pipeline is built: the model's own threads inherit this thread's priority.
  if (hostedData()?.lane === 'bulk') lowerThreadPriority(BULK_NICE);
  let pipeline: HostedPipeline<Info>;
  try {
    pipeline = await build();
  } catch (error) {
    const code = error instanceof EngramError ? error.code : undefined;
    port.postMessage({ kind: 'failed', error: messageOf(error), code } satisfies WorkerMessage<Info>);
    return;
  }
  const waiting: Request[] = [];
  let busy = false;
  const answer = (request: Request, vectors: Float32Array) =>
    port.postMessage({ kind: 'result', id: request.id, vectors } satisfies WorkerMessage<Info>, [
      vectors.buffer as ArrayBuffer,
    ]);
  const refuse = (request: Request, error: unknown) =>
    port.postMessage({ kind: 'error', id: request.id, error: messageOf(error) } satisfies WorkerMessage<Info>);
  const drain = async () => {
    busy = true;
    while (waiting.length > 0) {
      // Let requests that arrived during the last inference land, then run them together.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const group = takeGroup(waiting);
      try {
        const flat = await pipeline.run(group.flatMap((request) => request.texts));
        const width = flat.length / group.reduce((sum, request) => sum + request.texts.length, 0);
        let offset = 0;
        for (const request of group) {
          const end = offset + request.texts.length * width;
          answer(request, group.length === 1 ? flat : flat.slice(offset, end));
          offset = end;
        }
      } catch (error) {
        if (group.length === 1) refuse(group[0] as Request, error);
        // One bad request must not fail the others it was merged with: run them one by one.
        else waiting.unshift(...group.map((request) => ({ ...request, alone: true })));
      }
    }
    busy = false;
  };
  port.on('message', (request: Request) => {
    if (request.urgent) {
      // After the urgent requests already waiting, before every bulk one.
      const firstBulk = waiting.findIndex((other) => !other.urgent);
      waiting.splice(firstBulk < 0 ? waiting.length : firstBulk, 0, request);
    } else waiting.push(request);
    if (!busy) void drain();
  });
  port.postMessage({ kind: 'ready', info: pipeline.info } satisfies WorkerMessage<Info>);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
