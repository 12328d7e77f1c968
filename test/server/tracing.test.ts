import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, traced, tracesEndpoint } from '../../src/telemetry/index.js';
import { startTestServer } from '../helpers/server.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

/** A stand-in OpenTelemetry collector: the OTLP/HTTP JSON trace endpoint, keeping what it receives. */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (request.method === 'POST' && request.url === '/v1/traces') {
      const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const resource of payload.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

describe('OpenTelemetry tracing', () => {
  it('is off unless an OTLP endpoint is configured, and then wraps nothing', async () => {
    expect(tracesEndpoint({})).toBeNull();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/t' })).toBe('http://c:4318/t');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBeNull();
    await expect(startTracing({})).resolves.toBeNull();
    const part = { work: async () => 1 };
    expect(traced(part, 'part')).toBe(part);
  });

  describe('with a collector', () => {
    let collector: Awaited<ReturnType<typeof startCollector>>;
    beforeAll(async () => {
      collector = await startCollector();
    });
    afterAll(() => collector.server.close());

    it('exports HTTP → service → store and embedder spans, continuing the caller’s traceparent', async () => {
      const tracing = await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
      expect(tracing?.endpoint).toBe(`${collector.url}/v1/traces`);
      const server = await startTestServer({ embeddings: 'test' });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      try {
        const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
          fetch(`${server.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          });
        expect(
          (await post('/v1/memories', { content: 'Traces show where a slow search spends its time' })).status,
        ).toBe(201);
        const search = await post(
          '/v1/search',
          { query: 'slow search' },
          { traceparent: `00-${traceId}-${callerSpan}-01` },
        );
        expect(search.status).toBe(200);
      } finally {
        await server.close();
        await tracing?.shutdown();
      }

      const trace = collector.spans.filter((span) => span.traceId === traceId);
      const named = (name: string) => trace.filter((span) => span.name === name);
      const [http] = named('POST /v1/search');
      expect(http, `spans: ${collector.spans.map((s) => s.name).join(', ')}`).toBeDefined();
      expect(http?.parentSpanId).toBe(callerSpan);
      expect(http?.kind).toBe(2); // SERVER
      const attributes = Object.fromEntries(
        http?.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]) ?? [],
      );
      expect(attributes).toMatchObject({ 'http.route': '/v1/search', 'http.response.status_code': 200 });

      const [service] = named('service.search');
      expect(service?.parentSpanId).toBe(http?.spanId);
      // The store and embedder calls the search made are inside the service span's subtree.
      const ancestors = (span: OtlpSpan): string[] => {
        const parent = trace.find((s) => s.spanId === span.parentSpanId);
        return parent ? [parent.spanId, ...ancestors(parent)] : [];
      };
      for (const name of ['embedder.embed', 'store.keywordSearch', 'store.vectorSearch', 'store.getMany']) {
        const [span] = named(name);
        expect(span, name).toBeDefined();
        expect(ancestors(span as OtlpSpan), name).toContain(service?.spanId);
      }
      // The add was its own trace, with its own root.
      const add = collector.spans.find((span) => span.name === 'POST /v1/memories');
      expect(add?.traceId).not.toBe(traceId);
      expect(collector.spans.some((span) => span.name === 'service.addMany' && span.traceId === add?.traceId)).toBe(
        true,
      );
    });
  });
});
