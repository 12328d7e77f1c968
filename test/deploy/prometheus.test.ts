import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDirSync } from '../helpers/temp-dir.js';
import { DEPLOY_DIR, DEPLOY_HOW, DEPLOY_TOOLS } from './compose-model.js';

const run = promisify(execFile);
const PROMETHEUS_DIR = join(DEPLOY_DIR, 'prometheus');

/** Metric names (not recording rules) used by the shipped rules and the Grafana dashboard. */
function referencedMetrics(): string[] {
  const text =
    readFileSync(join(PROMETHEUS_DIR, 'rules.yml'), 'utf8') +
    readFileSync(join(DEPLOY_DIR, 'grafana', 'dashboards', 'engram.json'), 'utf8');
  return [...new Set([...text.matchAll(/\b(engram_[a-z_]+)\b/g)].map((m) => m[1] as string))].sort();
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

(DEPLOY_TOOLS ? describe : describe.skip)(`Prometheus${DEPLOY_TOOLS ? '' : ` (skipped: ${DEPLOY_HOW})`}`, () => {
  it('promtool accepts the shipped config and rules, and the rules pass their unit tests', async () => {
    const config = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: PROMETHEUS_DIR });
    expect(config.stdout).toMatch(/SUCCESS: prometheus.yml is valid/);
    const rules = await run('promtool', ['check', 'rules', 'rules.yml'], { cwd: PROMETHEUS_DIR });
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const tests = await run('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: PROMETHEUS_DIR });
    expect(tests.stdout).toMatch(/SUCCESS/);
  });

  describe('a real Prometheus scraping a real Engram', () => {
    let engram: TestServer;
    let prometheus: ChildProcess;
    let api: string;
    let work: string;
    let log = '';

    const query = async (promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as { status: string; data: { result: [] }; error?: string };
      if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
      return body.data.result;
    };
    const eventually = async <T>(what: string, probe: () => Promise<T | null>): Promise<T> => {
      for (let i = 0; i < 100; i++) {
        const value = await probe().catch(() => null);
        if (value !== null) return value;
        await sleep(300);
      }
      throw new Error(`timed out waiting for ${what}\n${log.slice(-2000)}`);
    };

    beforeAll(async () => {
      engram = await startTestServer();
      // Traffic, so that request, search and ingest series exist.
      const post = (path: string, body: unknown) =>
        fetch(`${engram.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await post('/v1/memories', { content: 'Prometheus scrapes every fifteen seconds' })).status).toBe(201);
      expect((await post('/v1/search', { query: 'how often does it scrape' })).status).toBe(200);
      expect((await post('/v1/memories?async=true', { content: 'Grafana shows the dashboard' })).status).toBe(202);

      work = tempDirSync('engram-prometheus-');
      const { host } = new URL(engram.url);
      writeFileSync(
        join(work, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          `rule_files: [${JSON.stringify(join(PROMETHEUS_DIR, 'rules.yml'))}]`,
          'scrape_configs:',
          '  - job_name: engram',
          `    static_configs: [{ targets: [${JSON.stringify(host)}] }]`,
        ].join('\n'),
      );
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(work, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(work, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prometheus.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      await eventually('Engram up in Prometheus', async () => {
        const up = await query('up{job="engram"}');
        return up[0]?.value[1] === '1' ? up : null;
      });
    }, 60_000);

    afterAll(async () => {
      if (prometheus && prometheus.exitCode === null) {
        prometheus.kill('SIGTERM');
        await new Promise((resolve) => prometheus.once('exit', resolve));
      }
      await engram?.close();
    });

    it('scrapes every metric the rules and the dashboard use', async () => {
      // LLM series exist once a model is configured and called (test/llm covers their values).
      const names = referencedMetrics().filter((name) => !name.startsWith('engram_llm_'));
      expect(names).toContain('engram_search_duration_seconds_bucket');
      const missing = async () => {
        const absent: string[] = [];
        for (const name of names) if ((await query(`count(${name})`)).length === 0) absent.push(name);
        return absent;
      };
      // The async add's job finishes within a scrape or two.
      await eventually('every referenced series', async () => ((await missing()).length === 0 ? true : null)).catch(
        () => undefined,
      );
      expect(await missing()).toEqual([]);
    });

    it('every Grafana dashboard query is valid PromQL that Prometheus evaluates', async () => {
      const dashboard = JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'dashboards', 'engram.json'), 'utf8')) as {
        panels: { title: string; targets: { expr: string }[] }[];
      };
      expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
      for (const panel of dashboard.panels) {
        for (const target of panel.targets)
          await expect(query(target.expr), panel.title).resolves.toBeInstanceOf(Array);
      }
    });

    it('scrapes conventionally named metrics: seconds, bytes, _total counters', async () => {
      const response = await fetch(`${api}/api/v1/label/__name__/values`);
      const names = ((await response.json()) as { data: string[] }).data.filter((n) => n.startsWith('engram_'));
      expect(names).toEqual(
        expect.arrayContaining(['engram_http_request_duration_seconds_bucket', 'engram_store_size_bytes']),
      );
      for (const name of names) expect(name, 'no milliseconds').not.toMatch(/_ms\b|_milliseconds/);
      const metadata = (await (await fetch(`${api}/api/v1/metadata`)).json()) as {
        data: Record<string, { type: string }[]>;
      };
      for (const [name, [entry]] of Object.entries(metadata.data)) {
        if (name.startsWith('engram_') && entry?.type === 'counter') expect(name).toMatch(/_total$/);
      }
    });

    it('evaluates the recording rules on real data, and loads the alerts healthy', async () => {
      const rate = await eventually('the request-rate recording rule', async () => {
        const result = await query('engram:http_requests:rate5m');
        return result.length > 0 ? result : null;
      });
      expect(rate.map((r) => r.metric.route)).toEqual(expect.arrayContaining(['/v1/search']));
      const rules = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
        data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
      };
      const all = rules.data.groups.flatMap((g) => g.rules);
      expect(all.length).toBeGreaterThanOrEqual(10);
      expect(all.filter((r) => r.health === 'err')).toEqual([]);
      expect((await query('ALERTS{alertname="EngramDown"}')).length).toBe(0);
    });
  });
});
