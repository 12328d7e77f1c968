import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { EngramError } from '../core/errors.js';
import { InputError, type IssueLike } from '../core/schemas.js';
import { httpSpans, routeLabel } from '../telemetry/index.js';
import { packageVersion } from '../util/paths.js';
import { authMiddleware, localOriginGuard, mcpOriginGuard } from './auth.js';
import { errorHandler } from './errors.js';
import { mountMcp } from './mcp/http.js';
import { rateLimit } from './rate-limit.js';
import type { AppEnv, ServerDeps } from './request-context.js';
import { adminRoutes } from './routes/admin.js';
import { chatRoutes } from './routes/chat.js';
import { extractRoutes } from './routes/extract.js';
import { jobRoutes } from './routes/jobs.js';
import { kbRoutes } from './routes/kb.js';
import { memoryRoutes } from './routes/memories.js';
import { searchRoutes } from './routes/search.js';
import { systemRoutes } from './routes/system.js';
import { uiRoutes } from './routes/ui.js';
import { userRoutes } from './routes/users.js';

type ZodIssueLike = IssueLike & { errors?: ZodIssueLike[][] };

/** Picks the most specific issues: for a union, the branch that came closest to matching. */
function flattenIssues(issues: ZodIssueLike[]): ZodIssueLike[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || !issue.errors?.length) return [issue];
    const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
    return flattenIssues(best.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] })));
  });
}

function validationHook(result: { success: boolean; error?: { issues: ZodIssueLike[] } }) {
  if (result.success || !result.error) return;
  throw InputError.of(flattenIssues(result.error.issues), 'invalid request');
}

/** The HTTP application: REST /v1, MCP, health, metrics and the OpenAPI document. */
export function createApp(deps: ServerDeps): OpenAPIHono<AppEnv> {
  const { config, logger, metrics } = deps;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const onError = errorHandler(logger);
  app.onError(onError);
  app.notFound((c) => onError(new EngramError('not_found', `no route for ${c.req.method} ${c.req.path}`), c));

  app.use('*', httpSpans());
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = routeLabel(c.req.routePath);
    const seconds = (performance.now() - started) / 1000;
    metrics.httpDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, seconds);
    // While shutting down, keep-alive clients are told to reconnect (to another replica), so that
    // their connections drain instead of carrying new requests until the grace period ends.
    if (deps.lifecycle.draining) c.header('Connection', 'close');
    logger.debug({ method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) }, 'request');
  });

  const limit = bodyLimit({
    maxSize: config.limits.maxBodyBytes,
    onError: () => {
      throw new EngramError('payload_too_large', `the request body exceeds ${config.limits.maxBodyBytes} bytes`);
    },
  });
  // One limiter (one set of counters) for every protected path.
  const rate = rateLimit(deps);
  for (const path of ['/v1/*', '/mcp', '/sse', '/messages']) {
    app.use(path, localOriginGuard(deps));
    if (path !== '/v1/*') app.use(path, mcpOriginGuard(deps));
    if (rate) app.use(path, rate);
    app.use(path, limit);
  }
  app.use('/v1/*', authMiddleware(deps, 'api'));

  systemRoutes(app, deps);
  memoryRoutes(app, deps);
  extractRoutes(app, deps);
  jobRoutes(app, deps);
  searchRoutes(app, deps);
  userRoutes(app, deps);
  adminRoutes(app, deps);
  kbRoutes(app, deps);
  chatRoutes(app, deps);
  uiRoutes(app, deps);
  mountMcp(app, deps, { stateless: deps.config.mcp.stateless });

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Engram',
      version: packageVersion(),
      description: 'Long-term memory for AI assistants. Authenticate with `Authorization: Bearer <key>`.',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  return app;
}
