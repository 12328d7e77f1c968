/**
 * OpenTelemetry traces, on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * is set and off otherwise — then nothing is wrapped and no OpenTelemetry package is even loaded:
 * they are imported by startTracing, only when it turns tracing on.
 * Spans: the HTTP request (a server span continuing the caller's W3C `traceparent`), and under it
 * the service call, the store, embedder and LLM calls it makes (spans.ts). Exported over OTLP/HTTP
 * (JSON) in batches; the standard OTEL_* variables (service name, headers, batch settings) apply.
 */
import type * as OtelApi from '@opentelemetry/api';
import { packageVersion } from '../util/paths.js';

/** The OpenTelemetry API once startTracing has loaded it; undefined while tracing is off. */
let api: typeof OtelApi | undefined;
let starting = false;

/** Whether startTracing installed a tracer provider in this process. */
export const tracingEnabled = (): boolean => api !== undefined;

/** The OpenTelemetry API while tracing is on (spans.ts opens spans with it), else undefined. */
export const otelApi = (): typeof OtelApi | undefined => api;

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

/**
 * Loads OpenTelemetry and installs the tracer provider when the environment asks for traces (null
 * otherwise, or when tracing is already on); call before opening the service.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | null> {
  const endpoint = tracesEndpoint(env);
  if (!endpoint || starting) return null;
  starting = true;
  try {
    const [otel, { OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] =
      await Promise.all([
        import('@opentelemetry/api'),
        import('@opentelemetry/exporter-trace-otlp-http'),
        import('@opentelemetry/resources'),
        import('@opentelemetry/sdk-trace-node'),
      ]);
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({
        'service.name': env.OTEL_SERVICE_NAME || 'engram',
        'service.version': packageVersion(),
      }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
    });
    // Also installs the AsyncLocalStorage context manager (parent spans follow awaits) and the W3C propagator.
    provider.register();
    api = otel;
    return {
      endpoint,
      async shutdown() {
        api = undefined;
        starting = false;
        await provider.shutdown();
        otel.trace.disable();
        otel.context.disable();
        otel.propagation.disable();
      },
    };
  } catch (error) {
    starting = false;
    throw error;
  }
}
