/**
 * Spans around Engram's parts, only when tracing is on (tracing.ts). `traced` wraps an object's
 * methods — the service, a store, an embedder, a chat model — so each call is a span named
 * `<part>.<method>`, a child of whatever span is active; `httpSpans` is the Hono middleware that
 * opens the request's server span.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { otelApi } from './tracing.js';

type Otel = typeof OtelApi;

const tracer = (otel: Otel) => otel.trace.getTracer('engram');

/** The matched route pattern (`/v1/memories/:id`), or `unmatched`: the label metrics and spans share. */
export const routeLabel = (routePath: string | undefined): string =>
  routePath && routePath !== '*' ? routePath : 'unmatched';

function fail(otel: Otel, span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

function inSpan(otel: Otel, name: string, call: () => unknown): unknown {
  return tracer(otel).startActiveSpan(name, (span) => {
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      fail(otel, span, error);
      span.end();
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          fail(otel, span, error);
          span.end();
          throw error;
        },
      );
    }
    span.end();
    return result;
  });
}

/**
 * `target` with each method call in a span `<part>.<method>` (methods run on the target itself,
 * so private fields keep working). Without tracing, `target` itself. `skip`: methods left alone
 * (cheap synchronous ones, or streams whose work happens after the call returns).
 */
export function traced<T extends object>(target: T, part: string, skip: readonly string[] = []): T {
  const otel = otelApi();
  if (!otel) return target;
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== 'function' || property === 'constructor') return value;
      let method = wrapped.get(property);
      if (!method) {
        const fn = value as (...args: unknown[]) => unknown;
        const name = typeof property === 'string' ? property : String(property);
        // Every method runs on the target (`this` = the real object): private fields need it.
        method = skip.includes(name)
          ? fn.bind(object)
          : (...args: unknown[]) => inSpan(otel, `${part}.${name}`, () => fn.apply(object, args));
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

/** The request's server span, continuing a caller's `traceparent`; named `<METHOD> <route>` once routed. */
export function httpSpans(): MiddlewareHandler {
  return async (c, next) => {
    const otel = otelApi();
    if (!otel) return next();
    const carrier = Object.fromEntries(c.req.raw.headers.entries());
    const parent = otel.propagation.extract(otel.context.active(), carrier);
    const span = tracer(otel).startSpan(
      `${c.req.method} ${c.req.path}`,
      { kind: otel.SpanKind.SERVER, attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path } },
      parent,
    );
    try {
      await otel.context.with(otel.trace.setSpan(parent, span), next);
      const route = routeLabel(c.req.routePath);
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', c.res.status);
      if (c.res.status >= 500) span.setStatus({ code: otel.SpanStatusCode.ERROR });
    } catch (error) {
      fail(otel, span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}
