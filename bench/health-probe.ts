/**
 * Worker thread for the event-loop benchmark: GETs <url>/health every `intervalMs` on its own
 * event loop (so the benchmark's main thread, which also hosts the server, cannot delay the
 * measurement itself) until told to stop, then posts back the latencies.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';

export interface ProbeOptions {
  url: string;
  intervalMs: number;
}

export interface ProbeResult {
  latencies: number[];
  failures: number;
}

const { url, intervalMs } = workerData as ProbeOptions;
let stopping = false;
parentPort?.on('message', (message) => {
  if (message === 'stop') stopping = true;
});

const latencies: number[] = [];
let failures = 0;
parentPort?.postMessage('started');
while (!stopping) {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/health`);
    await response.arrayBuffer();
    if (response.ok) latencies.push(performance.now() - started);
    else failures++;
  } catch {
    failures++;
  }
  await sleep(intervalMs);
}
parentPort?.postMessage({ latencies, failures } satisfies ProbeResult);
