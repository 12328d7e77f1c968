import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage, server } from '../api';
import { histogramQuantile, parseSamples, sampleValue } from '../metrics';
import { ErrorNote } from './error-note';

const DAYS = 14;

interface Overview {
  memories: number;
  categories: { category: string; count: number }[];
  perDay: { day: string; count: number }[];
  store: { memories: number | null; bytes: number | null };
  embedder: string;
  latency: { mode: string; p50: number | null; p95: number | null; p99: number | null }[];
  jobs: { queued: number | null; running: number | null };
}

async function load(): Promise<Overview> {
  const [stats, text, ready] = await Promise.all([api.stats(DAYS), server.metrics(), server.ready()]);
  const samples = parseSamples(text);
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return {
    memories: stats.memories,
    categories: stats.categories,
    perDay: stats.addedPerDay,
    store: {
      memories: sampleValue(samples, 'engram_store_memories'),
      bytes: sampleValue(samples, 'engram_store_size_bytes'),
    },
    embedder: ready.checks.embedder?.detail ?? 'unknown',
    latency: ['hybrid', 'keyword', 'vector'].map((mode) => ({
      mode,
      p50: ms(histogramQuantile(samples, 'engram_search_duration_seconds', 0.5, { mode })),
      p95: ms(histogramQuantile(samples, 'engram_search_duration_seconds', 0.95, { mode })),
      p99: ms(histogramQuantile(samples, 'engram_search_duration_seconds', 0.99, { mode })),
    })),
    jobs: {
      queued: sampleValue(samples, 'engram_jobs_queue_depth', { status: 'queued' }),
      running: sampleValue(samples, 'engram_jobs_queue_depth', { status: 'running' }),
    },
  };
}

/** Horizontal bars as SVG (the CSP allows no inline styles); each bar is labelled with its count. */
function Bars({ rows, label }: { rows: { name: string; count: number }[]; label: string }) {
  const max = Math.max(1, ...rows.map((row) => row.count));
  const height = 22;
  return (
    <svg class="chart" role="img" aria-label={label} viewBox={`0 0 400 ${rows.length * height}`} width="100%">
      {rows.map((row, i) => (
        <g key={row.name} transform={`translate(0 ${i * height})`}>
          <text x="0" y="15" class="chart-label">
            {row.name}
          </text>
          <rect x="110" y="3" height="14" width={Math.max(1, (row.count / max) * 240)} class="chart-bar" />
          <text x={116 + (row.count / max) * 240} y="15" class="chart-value">
            {row.count}
          </text>
        </g>
      ))}
    </svg>
  );
}

const num = (value: number | null, digits = 1) => (value === null ? '—' : value.toFixed(digits));

export function OverviewPage() {
  const [data, setData] = useState<Overview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    load().then(setData, (caught: unknown) => setError(errorMessage(caught)));
  }, []);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <p aria-live="polite">Loading…</p>;
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <dl class="facts" aria-label="Summary">
        <dt>your memories</dt>
        <dd>{data.memories}</dd>
        <dt>store (all users)</dt>
        <dd>
          {data.store.memories ?? '—'} memories,{' '}
          {data.store.bytes === null ? '—' : `${(data.store.bytes / 1_048_576).toFixed(1)} MB`}
        </dd>
        <dt>embedder</dt>
        <dd>{data.embedder}</dd>
        <dt>job queue</dt>
        <dd>
          {data.jobs.queued ?? 0} queued, {data.jobs.running ?? 0} running
        </dd>
      </dl>
      <h2>By category</h2>
      <Bars label="Memories per category" rows={data.categories.map((c) => ({ name: c.category, count: c.count }))} />
      <h2>Added per day (last {DAYS} days, UTC)</h2>
      <Bars
        label={`Memories added per day, last ${DAYS} days`}
        rows={data.perDay.map((d) => ({ name: d.day, count: d.count }))}
      />
      <h2>Search latency since the server started</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">mode</th>
            <th scope="col">p50 ms</th>
            <th scope="col">p95 ms</th>
            <th scope="col">p99 ms</th>
          </tr>
        </thead>
        <tbody>
          {data.latency.map((row) => (
            <tr key={row.mode}>
              <th scope="row">{row.mode}</th>
              <td>{num(row.p50)}</td>
              <td>{num(row.p95)}</td>
              <td>{num(row.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
