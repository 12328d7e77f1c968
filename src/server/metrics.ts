import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BackupObserver } from '../backup/index.js';
import type { MemoryService } from '../core/memory-service.js';
import { Extractor } from '../extract/index.js';
import type { JobQueue } from '../jobs/index.js';
import type { ChatModel } from '../llm/index.js';

/** USD per million tokens (`ENGRAM_LLM_PRICE_*_PER_MTOK`), for `engram_llm_cost_usd_total`. */
export interface LlmPrices {
  pricePromptPerMTok: number;
  priceCompletionPerMTok: number;
}

/** Prometheus metrics with conventional names and base units; service events are counted for every front end. */
export function createMetrics(
  service: MemoryService,
  llm: ChatModel | null = null,
  prices: LlmPrices = { pricePromptPerMTok: 0, priceCompletionPerMTok: 0 },
  jobs: JobQueue | null = null,
) {
  const { store } = service;
  const registry = new Registry();
  // prom-client's standard names under Engram's prefix: engram_process_resident_memory_bytes,
  // engram_nodejs_eventloop_lag_seconds, …
  collectDefaultMetrics({ register: registry, prefix: 'engram_' });
  const httpDuration = new Histogram({
    name: 'engram_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const searchDuration = new Histogram({
    name: 'engram_search_duration_seconds',
    help: 'Search duration by mode (end to end inside the service, query embedding included)',
    labelNames: ['mode'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const memoriesAdded = new Counter({
    name: 'engram_memories_added_total',
    help: 'Memories stored (duplicates not counted)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'engram_memories_duplicate_total',
    help: 'Adds that matched existing content and stored nothing new',
    registers: [registry],
  });
  // One stats() per scrape feeds both store gauges (it can be costly: the json store reads files).
  let pending: Promise<{ memories: number; bytes?: number }> | null = null;
  const stats = () => {
    pending ??= store.stats().finally(() => {
      pending = null;
    });
    return pending;
  };
  new Gauge({
    name: 'engram_store_memories',
    help: 'Memories in the store',
    registers: [registry],
    async collect() {
      this.set((await stats()).memories);
    },
  });
  new Gauge({
    name: 'engram_store_size_bytes',
    help: 'Bytes the store occupies on disk',
    registers: [registry],
    async collect() {
      this.set((await stats()).bytes ?? 0);
    },
  });
  const queue = () => service.embedder.queue;
  new Gauge({
    name: 'engram_embed_queue_texts',
    help: 'Texts in the embedding queue: running (in the model now), admitted (running or next in line), waiting (for room)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = queue();
      this.set({ state: 'running' }, stats?.runningTexts ?? 0);
      this.set({ state: 'admitted' }, stats?.admittedTexts ?? 0);
      this.set({ state: 'waiting' }, stats?.waitingTexts ?? 0);
    },
  });
  new Gauge({
    name: 'engram_embed_queue_capacity_texts',
    help: 'Most texts the embedding queue admits at once (ENGRAM_EMBED_QUEUE_SIZE)',
    registers: [registry],
    collect() {
      this.set(queue()?.capacity ?? 0);
    },
  });
  new Counter({
    name: 'engram_embed_rejected_total',
    help: 'Requests refused with overloaded because the embedding queue stayed full',
    registers: [registry],
    collect() {
      const rejected = queue()?.rejected ?? 0;
      this.reset();
      this.inc(rejected);
    },
  });
  // The LLM counters are read from `llm.stats` at each scrape (one model per process: the `model` label).
  new Counter({
    name: 'engram_llm_tokens_total',
    help: 'Tokens the LLM counted: prompt (sent) and completion (generated)',
    labelNames: ['kind', 'model'],
    registers: [registry],
    collect() {
      this.reset();
      if (!llm) return;
      const { stats, model } = llm;
      this.inc({ kind: 'prompt', model }, stats.promptTokens);
      this.inc({ kind: 'completion', model }, stats.completionTokens);
    },
  });
  new Counter({
    name: 'engram_llm_requests_total',
    help: 'LLM calls by outcome (a call retried by the client counts once)',
    labelNames: ['outcome', 'model'],
    registers: [registry],
    collect() {
      this.reset();
      if (!llm) return;
      const { stats, model } = llm;
      this.inc({ outcome: 'ok', model }, stats.requests - stats.failures);
      this.inc({ outcome: 'failed', model }, stats.failures);
    },
  });
  new Counter({
    name: 'engram_llm_structured_outputs_total',
    help: 'Structured outputs (JSON of a schema) by result: ok as sent, repaired (code fence, prose, trailing commas), rejected',
    labelNames: ['result', 'model'],
    registers: [registry],
    collect() {
      this.reset();
      if (!llm) return;
      const { stats, model } = llm;
      for (const result of ['ok', 'repaired', 'rejected'] as const)
        this.inc({ result, model }, stats.structured[result]);
    },
  });
  new Counter({
    name: 'engram_llm_cost_usd_total',
    help: 'Estimated LLM spend in US dollars: tokens times ENGRAM_LLM_PRICE_PROMPT_PER_MTOK / ENGRAM_LLM_PRICE_COMPLETION_PER_MTOK',
    labelNames: ['model'],
    registers: [registry],
    collect() {
      this.reset();
      if (!llm) return;
      const { stats, model } = llm;
      const cost =
        (stats.promptTokens * prices.pricePromptPerMTok + stats.completionTokens * prices.priceCompletionPerMTok) /
        1_000_000;
      this.inc({ model }, cost);
    },
  });
  const sharedCache = () => service.embedder.sharedCache;
  new Counter({
    name: 'engram_embed_shared_cache_texts_total',
    help: 'Texts looked up in the embedding cache replicas share (Redis): hit, miss; error counts failed Redis calls',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const stats = sharedCache();
      this.reset();
      if (!stats) return;
      this.inc({ result: 'hit' }, stats.hits);
      this.inc({ result: 'miss' }, stats.misses);
      this.inc({ result: 'error' }, stats.errors);
    },
  });
  const jobTransitions = new Counter({
    name: 'engram_jobs_total',
    help: 'Background job status changes by kind: queued (enqueued, or again for a retry), running (an attempt started), succeeded, failed',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  if (jobs) {
    jobs.observe({ changed: (kind, status) => jobTransitions.inc({ kind, status }) });
    new Gauge({
      name: 'engram_jobs_queue_depth',
      help: 'Unfinished background jobs in the store (every replica): queued (waiting) and running',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const counts = await jobs.store.jobCounts();
        this.set({ status: 'queued' }, counts.queued);
        this.set({ status: 'running' }, counts.running);
      },
    });
  }
  const decisions = new Counter({
    name: 'engram_extract_decisions_total',
    help: 'Facts stored or matched through LLM extraction, by action (add, update, noop) and by whom it was decided (model, rule, fallback)',
    labelNames: ['action', 'by'] as const,
    registers: [registry],
  });
  const extractor = service.inferrer instanceof Extractor ? service.inferrer : null;
  new Counter({
    name: 'engram_extract_output_problems_total',
    help: 'Problems with LLM extraction output: whole replies rejected (by stage and kind), facts or fields dropped, decisions ignored or missing',
    labelNames: ['problem'] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!extractor) return;
      const { rejected, factsDropped, fieldsDropped, invalidDecisions, undecided } = extractor.stats;
      for (const stage of ['extract', 'decide'] as const)
        for (const [kind, count] of Object.entries(rejected[stage])) this.inc({ problem: `${stage}_${kind}` }, count);
      this.inc({ problem: 'fact_dropped' }, factsDropped);
      this.inc({ problem: 'field_dropped' }, fieldsDropped);
      this.inc({ problem: 'decision_invalid' }, invalidDecisions);
      this.inc({ problem: 'decision_missing' }, undecided);
    },
  });
  service.observe({
    decided(list) {
      for (const decision of list) decisions.inc({ action: decision.action, by: decision.by });
    },
    added(source, created, duplicateCount) {
      if (created > 0) memoriesAdded.inc({ source }, created);
      if (duplicateCount > 0) duplicates.inc(duplicateCount);
    },
    searched(mode, seconds) {
      searchDuration.observe({ mode }, seconds);
    },
  });
  const backups = new Counter({
    name: 'engram_backups_total',
    help: 'Scheduled backups by outcome (succeeded, failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['succeeded', 'failed'] as const) backups.inc({ outcome }, 0);
  const lastBackup = new Gauge({
    name: 'engram_backup_last_success_timestamp_seconds',
    help: 'When the last scheduled backup succeeded (Unix time; 0 before the first)',
    registers: [registry],
  });
  const lastBackupSize = new Gauge({
    name: 'engram_backup_last_size_bytes',
    help: 'Size of the last successful scheduled backup',
    registers: [registry],
  });
  const backupObserver: BackupObserver = {
    succeeded(report) {
      backups.inc({ outcome: 'succeeded' });
      lastBackup.set(Date.now() / 1000);
      lastBackupSize.set(report.bytes);
    },
    failed() {
      backups.inc({ outcome: 'failed' });
    },
  };
  return { registry, httpDuration, backupObserver };
}

export type Metrics = ReturnType<typeof createMetrics>;
