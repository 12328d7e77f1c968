import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv, ServerDeps } from '../request-context.js';

const READY_CACHE_MS = 2_000;

/** Liveness, readiness and metrics: unauthenticated, cheap, never touching user data. */
export function systemRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service, metrics, logger } = deps;

  app.get('/health', (c) => c.json({ status: 'ok' }));

  // Readiness is computed at most every few seconds: it runs a real embedding, and it is public.
  let last: { at: number; ready: boolean; checks: Record<string, { ok: boolean; detail: string }> } | null = null;
  const check = async () => {
    const checks: Record<string, { ok: boolean; detail: string }> = {};
    try {
      // A write, not only a read: a full disk or a lock held by another process makes the server
      // unable to take writes while reads still work, and a load balancer should know.
      await service.store.stats();
      await service.store.probeWrite();
      checks.store = { ok: true, detail: service.store.name };
    } catch (error) {
      logger.warn({ err: error }, 'readiness: store check failed');
      checks.store = { ok: false, detail: `${service.store.name}: unavailable` };
    }
    try {
      // A text no cache can hold, so the model itself answers.
      await service.embedder.embed([`readiness probe ${Date.now()} ${Math.random()}`]);
      checks.embedder = { ok: true, detail: `${service.embedder.model} (${service.embedder.dimension}-d)` };
    } catch (error) {
      logger.warn({ err: error }, 'readiness: embedder check failed');
      checks.embedder = { ok: false, detail: `${service.embedder.model}: unavailable` };
    }
    return { at: Date.now(), ready: Object.values(checks).every((item) => item.ok), checks };
  };

  app.get('/ready', async (c) => {
    if (deps.lifecycle.draining) return c.json({ status: 'draining', checks: {} }, 503);
    if (!last || Date.now() - last.at > READY_CACHE_MS) last = await check();
    return c.json({ status: last.ready ? 'ready' : 'unavailable', checks: last.checks }, last.ready ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
}
