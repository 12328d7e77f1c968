/**
 * Bench section e: /health latency of a real server during a large HTTP import (target p99 < 50 ms).
 * /health is probed from a worker thread (health-probe.ts), so the probe's own event loop is not the
 * one the import keeps busy.
 */
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openService } from '../src/runtime.js';
import { startServer } from '../src/server/server.js';
import { BATCH, type Bench, SIZES } from './context.js';
import { memoryTexts } from './gen.js';
import type { ProbeResult } from './health-probe.js';
import { fmt, log, markdownTable, progressBar } from './report.js';
import { type Summary, summarize } from './stats.js';

const HEALTH_INTERVAL_MS = 20;
const HEALTH_TARGET_P99_MS = 50;

export interface HttpResult {
  memories: number;
  seconds: number;
  idle: Summary;
  during: Summary;
  failures: number;
  loopDelay: { p50: number; p99: number; max: number };
}

async function startProbe(url: string): Promise<{ stop(): Promise<ProbeResult> }> {
  const worker = new Worker(new URL('./health-probe.js', import.meta.url), {
    workerData: { url, intervalMs: HEALTH_INTERVAL_MS },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: () =>
      new Promise<ProbeResult>((resolve, reject) => {
        worker.once('message', (result: ProbeResult) => {
          void worker.terminate();
          resolve(result);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

/** Starts a server on a fresh store (with its own embedder) and imports SIZES.http memories over HTTP. */
export async function httpImport(bench: Bench): Promise<HttpResult> {
  const dataDir = await bench.tempDir('http');
  const config = loadConfig({
    overrides: {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      sqlite: { path: join(dataDir, 'engram.db') },
      auth: { mode: 'none' },
      limits: { rateLimitPerMinute: 0 },
    },
  });
  log('e. starting a server (loading the embedder) …');
  const service = await openService(config);
  const server = await startServer(config, service, createLogger('silent'));
  try {
    // Baseline: /health on an idle server for ~2 s.
    let probe = await startProbe(server.url);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = await probe.stop();

    const texts = memoryTexts(SIZES.http, 505);
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += BATCH) batches.push(texts.slice(i, i + BATCH));
    const bar = progressBar('e. HTTP import', texts.length);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    probe = await startProbe(server.url);
    loop.enable();
    const started = performance.now();
    let next = 0;
    // Two importers, as two clients (users) would.
    await Promise.all(
      [0, 1].map(async (client) => {
        while (next < batches.length) {
          const batch = batches[next++] as string[];
          const response = await fetch(`${server.url}/v1/memories`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-user-id': `http-${client}` },
            body: JSON.stringify({ memories: batch.map((content) => ({ content })) }),
          });
          const body = await response.text();
          if (response.status !== 201) throw new Error(`POST /v1/memories: ${response.status} ${body.slice(0, 300)}`);
          bar.increment(batch.length);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    loop.disable();
    const during = await probe.stop();
    bar.stop();
    const ms = (ns: number) => ns / 1e6;
    return {
      memories: texts.length,
      seconds,
      idle: summarize(idle.latencies),
      during: summarize(during.latencies),
      failures: during.failures + idle.failures,
      loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
    };
  } finally {
    await server.close();
    bench.recordRss('e. HTTP import');
  }
}

/** The "Event loop during an HTTP import" section of the report. */
export function httpSection(http: HttpResult): string[] {
  const triple = (s: { p50: number; p99: number; max: number }) =>
    `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} / ${s.max.toFixed(2)} ms`;
  const pass = http.during.p99 < HEALTH_TARGET_P99_MS;
  return [
    '## Event loop during an HTTP import',
    '',
    markdownTable(
      ['metric', 'value'],
      [
        [
          'import',
          `${fmt(http.memories)} memories, POST /v1/memories batches of ${BATCH}, 2 clients, real USE embedding`,
        ],
        ['import rate', `${(http.memories / http.seconds).toFixed(1)} memories/s (${http.seconds.toFixed(1)} s)`],
        ['/health idle p50 / p99 / max', `${triple(http.idle)} (${http.idle.n} probes)`],
        [
          '/health during import p50 / p99 / max',
          `${triple(http.during)} (${http.during.n} probes, every ~${HEALTH_INTERVAL_MS} ms)`,
        ],
        ['probe failures', String(http.failures)],
        ['server event-loop delay p50 / p99 / max', triple(http.loopDelay)],
        [`target: /health p99 < ${HEALTH_TARGET_P99_MS} ms`, pass ? '**pass**' : '**FAIL**'],
      ],
    ),
    '',
    '_The prober runs in a worker thread with its own event loop; the server (and the importing clients) share the main thread._',
    '',
  ];
}
