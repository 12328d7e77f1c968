import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv, ServerDeps } from '../context.js';

/** Liveness, readiness and metrics: unauthenticated, cheap, never touching user data. */
export function systemRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service, metrics, logger } = deps;

  app.get('/health', (c) => c.json({ status: 'ok' }));

  app.get('/ready', async (c) => {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      const stats = await service.store.stats();
      checks.store = { ok: true, detail: `${service.store.name}: ${stats.memories} memories` };
    } catch (error) {
      logger.warn({ err: error }, 'readiness: store check failed');
      checks.store = { ok: false, detail: `${service.store.name}: unavailable` };
    }
    try {
      await service.embedder.embed(['ready']);
      checks.embedder = { ok: true, detail: `${service.embedder.model} (${service.embedder.dimension}-d)` };
    } catch (error) {
      logger.warn({ err: error }, 'readiness: embedder check failed');
      checks.embedder = { ok: false, detail: `${service.embedder.model}: unavailable` };
    }
    const ready = Object.values(checks).every((check) => check.ok);
    return c.json({ status: ready ? 'ready' : 'unavailable', checks }, ready ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
}
