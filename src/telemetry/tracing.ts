/**
 * OpenTelemetry traces, on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * is set and off otherwise — then nothing is wrapped and the API's no-op tracer costs nothing.
 * Spans: the HTTP request (a server span continuing the caller's W3C `traceparent`), and under it
 * the service call, the store, embedder and LLM calls it makes (spans.ts). Exported over OTLP/HTTP
 * (JSON) in batches; the standard OTEL_* variables (service name, headers, batch settings) apply.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let enabled = false;

/** Whether startTracing installed a tracer provider in this process. */
export const tracingEnabled = (): boolean => enabled;

export interface Tracing {
  /** Where spans go. */
  endpoint: string;
  /** Exports the spans still buffered and stops tracing. */
  shutdown(): Promise<void>;
}

/** The OTLP traces URL the environment names, or null when tracing is off. */
export function tracesEndpoint(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return null;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : null;
}

/** Installs the tracer provider when the environment asks for traces; call before opening the service. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): Tracing | null {
  const endpoint = tracesEndpoint(env);
  if (!endpoint || enabled) return null;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'engram',
      'service.version': '0.1.0',
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  // Also installs the AsyncLocalStorage context manager (parent spans follow awaits) and the W3C propagator.
  provider.register();
  enabled = true;
  return {
    endpoint,
    async shutdown() {
      enabled = false;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
